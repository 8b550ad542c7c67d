"""Experiment (2026-12-03): average the shipped default model's weights with the back-translated
decoder's (`bt_finetune.py`; only decoder-side weights differ), share ALPHA of the latter, and
save the result as a model folder (heads, directions and lexicon copied: the encoder is unchanged).

    python benchmarks/experiments/bt_soup.py runs/bt/model 0.25 runs/bt/soup25
"""

import sys
from pathlib import Path

from finetuning import save_beside_default  # this folder (sys.path[0] when run as a script)
from safetensors.torch import load_file

from latentedit import LatentEditor

tuned, alpha, out = Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
editor = LatentEditor.load("default")
model = editor.model
shipped = model.tensors_to_save()
other = load_file(tuned / "model.safetensors")
model.load_saved_tensors({name: ((1 - alpha) * value.float() + alpha * other[name].float()).to(value.dtype)
                          for name, value in shipped.items()})
save_beside_default(model, out)
print("saved", out, "alpha", alpha)
