"""The label vocabulary every part of the library speaks: NSynth's note labels (chapter 2).

A note of NSynth carries a pitch (MIDI 0-127), a velocity (1-127; NSynth plays five) and an instrument source
(acoustic, electronic or synthetic). The data, the conditioning, the evaluation classifier and the book's
widgets all take these names and ranges from here. Labels travel through the library as
:class:`tutorial_lib.conditioning.Conditions`.
"""

#: NSynth's instrument sources, in the order of their ids (``source`` 0, 1, 2).
SOURCES = ("acoustic", "electronic", "synthetic")
SOURCE_IDS = {name: i for i, name in enumerate(SOURCES)}
NUM_SOURCES = len(SOURCES)
#: MIDI ranges: pitch 0-127, velocity 1-127 (velocity 0 means "note off").
PITCH_RANGE, VELOCITY_RANGE = (0, 127), (1, 127)
#: The five velocities NSynth plays every note at.
VELOCITIES = (25, 50, 75, 100, 127)
#: A label not given (a free choice for the model, or an unknown source).
UNKNOWN = -1
