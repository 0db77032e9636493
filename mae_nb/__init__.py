"""Masked Autoencoders Are Scalable Vision Learners (He et al., 2021), as literate notebooks on fastai and timm

Modules:

- `mae_nb.data`: The images every later notebook trains on, fed with the paper's only augmentation: a random resized crop and a horizontal flip, per image, on the device.
- `mae_nb.decoder`: A small Transformer that gets the encoded visible patches plus a shared mask token for each removed one, and predicts the pixels of every patch.
- `mae_nb.loss`: Mean squared error on the removed patches only, optionally against per-patch normalised pixels; the official presets; loading official checkpoints.
- `mae_nb.pretrain`: Train a masked autoencoder with a fastai `Learner`: the paper's recipe, mixed precision, checkpoints that resume exactly, and data-parallel training on GPUs or CPUs."""

__version__ = "0.0.1"
