"""Where and how the method runs, kept apart from the method itself: devices and CPU threads
(:mod:`.devices`, :mod:`.threads`), several processes (:mod:`.distributed`), progress bars (:mod:`.progress`),
files written whole or not at all (:mod:`.files`), counts of costly work (:mod:`.work`) and expected times on
a GPU (:mod:`.estimates`)."""
