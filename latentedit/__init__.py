"""latentedit: train a Transformer-VAE on your text, then edit text through its latent space."""

__version__ = "0.1.0"

from .config import VAEConfig  # noqa: E402
from .editor import LatentEditor  # noqa: E402
from .errors import ConfigError, DataFormatError, InputError, LatentEditError, ModelFolderError  # noqa: E402
from .model import TransformerVAE, VAEOutput  # noqa: E402
from .tokenizer import Tokenizer  # noqa: E402

__all__ = [
    "ConfigError", "DataFormatError", "InputError", "LatentEditError", "LatentEditor", "ModelFolderError",
    "Tokenizer", "TransformerVAE", "VAEConfig", "VAEOutput", "__version__",
]
