"""The model every speedrun case's train.py saves (the uniform toy of harnesses/speedrun/toys.py, 8 bits per byte):
copied into each case's folder, which must hold a model.py (the manifest's required files)."""
from harnesses.speedrun import toys

exec(toys.UNIFORM.format(seq_len=16))
