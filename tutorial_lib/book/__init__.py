"""What the book's pages use and the method never imports: showing code (:mod:`.display`), figures
(:mod:`.plots`, :mod:`.diagrams`), players and sliders (:mod:`.widgets`), the exercises' checks
(:mod:`.exercises`) and the student edition (:mod:`.student`)."""
