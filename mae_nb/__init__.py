"""Masked Autoencoders Are Scalable Vision Learners (He et al., 2021), as literate notebooks on fastai and timm

Modules:

- `mae_nb.ablations`: The paper's ablations run on Fashion-MNIST by the grids of notebooks 12a-12b, read beside the paper's numbers, each difference against its seed spread: the tools that read them, the mask ratio (Fig. 5), MAE against the same ViT from scratch (Table 3), pretraining length and partial fine-tuning (Fig. 7, Fig. 9) and the targets they set; Table 1 follows in notebook 13a.
- `mae_nb.all`: `from mae_nb.all import *` gives the public API: what a user of the paper's pipeline calls.
- `mae_nb.cells`: Each ablation of the paper as a grid: a list of cells, each a label and the settings it changes from a budget's base cell; and where each cell's results file lies.
- `mae_nb.checkpoints`: Checkpoint files: written whole or not at all, the newest found in a run folder, and read in every layout people have (mae_nb runs, the official files, timm's and Hugging Face's) as one dict of our names.
- `mae_nb.cli`: `mae-nb pretrain | linprobe | finetune | transfer | export | experiment ...`: every setting of a run as a flag, with the paper's defaults.
- `mae_nb.data`: Fashion-MNIST as one uint8 tensor, and the paper's only augmentation: a random resized crop and a horizontal flip, per image, run on the device as one batch.
- `mae_nb.decoder`: A small Transformer that gets the encoded visible patches plus a shared mask token for each removed one, and predicts the pixels of every patch.
- `mae_nb.distributed`: Train on several GPUs, several machines or several CPU processes with fastai's `DistributedTrainer`: each process its own device and a disjoint shard of every epoch, the losses summed over processes.
- `mae_nb.encoder`: A ViT that sees only the visible patches, plus a cls token, with the fixed 2-D sin-cos position embeddings of notebook 00.
- `mae_nb.experiments`: Run a pretraining, probe, fine-tuning or transfer as a **stage**: named by a hash of its settings, resumed where it stopped, run once however many experiments ask for it and by however many processes share the work, and recorded in its run's `result.json` with its test accuracy, read once.
- `mae_nb.finetune`: Train the pretrained encoder end to end as a classifier, with the paper's recipe (layer-wise lr decay, drop path, mixup/cutmix, RandAugment, label smoothing), or tune only its last k blocks (the paper's Fig. 9).
- `mae_nb.grids`: Each cell of the paper's ablation grids as three stages of the experiment runner (pretrain, probe, fine-tune) at a budget that fits the machine: run, resumed, shared between processes, with learning rates chosen on held-out images.
- `mae_nb.linprobe`: Freeze the pretrained encoder, train one linear layer on its features: how much of the class is already linearly readable? With the paper's head (BatchNorm without affine + Linear) and optimizer (LARS).
- `mae_nb.loaders`: Every source as fastai `DataLoaders`, through one entry point: the shipped sample, Fashion-MNIST, images in memory, and folders of images laid out like ImageNet, decoded by worker processes and checked once.
- `mae_nb.logs`: A CSV of every training step and of every epoch, continued when a run resumes, and losses and progress bars that never make the host wait for the device.
- `mae_nb.masking`: Remove most patches, uniformly at random per image, by shuffling tokens; and the block and grid alternatives.
- `mae_nb.model`: Mean squared error on the removed patches only, optionally against per-patch normalised pixels; the whole model, `MaskedAutoencoderViT`; the official presets.
- `mae_nb.patchify`: Cut an image into non-overlapping patches, put it back together exactly, and give each patch its position.
- `mae_nb.precision`: bf16 or fp16 autocast on any device through fastai's `MixedPrecision`, and `precision='auto'`: bf16 where the device does it natively and it pays, TF32 for what stays in fp32 on a GPU.
- `mae_nb.pretrain`: Train a masked autoencoder with a fastai `Learner`: the paper's recipe, mixed precision, checkpoints that resume exactly, and data-parallel training on GPUs or CPUs.
- `mae_nb.reconstructions`: What a masked autoencoder puts in the removed patches: the paper's four-column figure, un-normalised with what the model could know, and one number for how good it is, against a flat fill of the visible pixels.
- `mae_nb.scaling`: The paper's title claim in miniature: MAE against the same ViT trained from scratch at four encoder sizes, with all the labels and with a tenth of them (Fig. 8, Table 3).
- `mae_nb.train`: What every training run shares: the learning rate and its schedule, AdamW, checkpoints that resume exactly, its folder, and the result it writes; with the mixed precision, data-parallel training and logs of the three notebooks before.
- `mae_nb.transfer`: Take a pretrained encoder to a new dataset, image size and channel count, and fine-tune it there: the paper's transfer claim, from clothes to handwritten digits.
- `mae_nb.weights`: The encoder of any checkpoint as a timm `VisionTransformer`, the whole MAE back, the shipped pretrained model, an encoder moved to another image size or channel count, and exports for timm, the official layout and Hugging Face."""

__version__ = "0.0.1"

def __getattr__(name): # `mae_nb.pretrained(...)` without importing torch and timm at `import mae_nb`
    if name == 'pretrained':
        from .weights import pretrained
        return pretrained
    raise AttributeError(f"module 'mae_nb' has no attribute {name!r}")
