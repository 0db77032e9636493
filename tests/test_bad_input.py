"""Runs used the way a new user would, with what goes wrong: each gets a one-line error naming what was expected and
what was given, before any work where it can be known then, and no run loses a checkpoint."""
import os, signal, subprocess, sys, time
from pathlib import Path
from unittest import mock
import numpy as np, pytest, torch
from PIL import Image
from mae_nb.patchify import load_sample
from mae_nb.checkpoints import latest_checkpoint, pretrained_path, read_checkpoint
from mae_nb.train import RunFolderBusy
from mae_nb.pretrain import pretrain
from mae_nb.finetune import finetune
from mae_nb.transfer import transfer
from mae_nb.cli import run as cli, _read_config
from mae_nb.pretrain import PretrainConfig

# a pretraining of the shipped sample in a few seconds; a checkpoint every epoch
TINY = dict(epochs=1, bs=64, precision='fp32', compile=False, save_every=1)
FOLDER = {**TINY, 'bs': 8}  # the same on the 16 training images of `image_folder`

def image_folder(root:Path, train_classes=(0, 1), valid_classes=(0, 1), n=8) -> Path:
    "Sample images as 28 px grey PNGs in root/train/<class>/ and root/val/<class>/."
    x, y = load_sample('train')
    for split, classes in (('train', train_classes), ('val', valid_classes)):
        for c in classes:
            d = root/split/f'c{c}'; d.mkdir(parents=True)
            for i in (y == c).nonzero()[:n, 0].tolist(): Image.fromarray(x[i, 0].numpy()).save(d/f'{i}.png')
    return root

def cli_error(argv, capsys) -> str:
    "The one line `mae-nb` exits with."
    with pytest.raises(SystemExit) as e: cli(argv)
    msg = str(e.value.code) if not isinstance(e.value.code, int) else capsys.readouterr().err.strip().splitlines()[-1]
    assert '\n' not in msg, msg
    return msg

def test_relative_out_with_a_folder_source(tmp_path, monkeypatch):
    "A relative `out` is relative to the working directory, for every file of the run (not to the data's folder)."
    image_folder(tmp_path/'data')
    monkeypatch.chdir(tmp_path)
    pretrain(source='data', out='runs/rel', **FOLDER)
    files = {f.name for f in (tmp_path/'runs'/'rel').iterdir()}
    assert {'epochs.csv', 'steps.csv', 'config.yaml', 'checkpoint-1.pth'} <= files
    assert not (tmp_path/'data'/'runs').exists()

def test_fewer_images_than_a_batch(tmp_path):
    "Training images that make no full batch stop the run before it starts (an epoch of no steps would train nothing)."
    data = image_folder(tmp_path/'data')  # 16 training images
    with pytest.raises(ValueError,
                       match='its 16 training images make no full batch of 32 .*: use a batch of at most 16'):
        pretrain(source=str(data), out=str(tmp_path/'run'), **{**FOLDER, 'bs': 32})

def test_validation_class_without_training_images(tmp_path):
    "Pretraining reads no labels and runs; a run that reads them stops before training, naming the folder."
    data = image_folder(tmp_path/'data', valid_classes=(0, 1, 7))
    pretrain(source=str(data), out=str(tmp_path/'pre'), **FOLDER)
    assert latest_checkpoint(tmp_path/'pre').name == 'checkpoint-1.pth'
    with pytest.raises(ValueError, match=r"data/val has classes with no folder in .*data/train: c7"):
        finetune(source=str(data), checkpoint=str(tmp_path/'pre'), epochs=1, out=str(tmp_path/'ft'))
    assert latest_checkpoint(tmp_path/'ft') is None  # stopped before any work

def test_image_size_and_channels_from_the_data(tmp_path, capsys):
    "A folder of 28 px grey images transfers at 28 px and one channel unless told otherwise, and says so."
    data = image_folder(tmp_path/'data', n=16)
    learn = transfer(checkpoint='fashion_mnist', source=str(data), epochs=1, bs=16, out=str(tmp_path/'tr'))
    assert learn.model.patch_embed.img_size == (28, 28) and learn.model.patch_embed.proj.in_channels == 1
    assert f"image size 28 and 1 channel: from the images in {data}" in capsys.readouterr().out
    with pytest.warns(UserWarning, match='upscaled 2.3x to 64 px'):
        transfer(checkpoint='fashion_mnist', source=str(data), img_size=64, epochs=1, bs=16, out=str(tmp_path/'tr64'))

@pytest.mark.parametrize('sig', [signal.SIGKILL, signal.SIGTERM])
def test_killed_mid_epoch_then_resumed(tmp_path, sig):
    "A run killed in its second epoch keeps its first checkpoint whole; `--resume` finishes the run from there."
    out = tmp_path/'run'
    cmd = [sys.executable, '-m', 'mae_nb', 'pretrain', '--epochs', '3', '--bs', '64', '--precision', 'fp32',
           '--save-every', '1', '--out', str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(3000):
            if (out/'checkpoint-1.pth').exists() or p.poll() is not None: break
            time.sleep(0.1)
        p.send_signal(sig); p.wait(60)
    finally: p.kill()
    assert p.returncode != 0, "the run ended before it could be killed: make its epochs longer"
    assert (out/'checkpoint-1.pth').exists(), "killed before its first checkpoint"
    assert read_checkpoint(latest_checkpoint(out))['epoch'] == 1
    subprocess.run(cmd + ['--resume'], check=True, capture_output=True)
    assert read_checkpoint(latest_checkpoint(out))['epoch'] == 3
    epochs = [l.split(',')[0] for l in (out/'epochs.csv').read_text().splitlines()[1:]]
    assert epochs == ['0', '1', '2'], epochs

def test_two_runs_on_one_out(tmp_path):
    "A second run on a folder another live run is writing to stops at once, naming the process; the first is untouched."
    out = tmp_path/'run'
    p = subprocess.Popen([sys.executable, '-m', 'mae_nb', 'pretrain', '--epochs', '2', '--bs', '64', '--out', str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(3000):
            if (out/'.lock').exists() and (out/'.lock').read_text().strip(): break
            time.sleep(0.1)
        with pytest.raises(RunFolderBusy, match=f"another run \\(process {p.pid}\\) is writing to {out}"):
            pretrain(out=str(out), **TINY)
        assert p.wait(300) == 0
    finally: p.kill()
    assert read_checkpoint(latest_checkpoint(out))['epoch'] == 2

def test_fresh_run_on_a_finished_runs_folder(tmp_path):
    "A run that does not resume will not overwrite an earlier run's checkpoints."
    out = tmp_path/'run'
    pretrain(out=str(out), **TINY)
    before = (out/'checkpoint-1.pth').read_bytes()
    with pytest.raises(FileExistsError, match="holds an earlier run's checkpoint-1.pth: resume it"):
        pretrain(out=str(out), **{**TINY, 'epochs': 2})
    assert (out/'checkpoint-1.pth').read_bytes() == before
    pretrain(out=str(out), resume=True, **{**TINY, 'epochs': 2})  # resuming it is what works
    assert latest_checkpoint(out).name == 'checkpoint-2.pth'

def test_disk_full_during_a_save(tmp_path):
    "A save that fails halfway (a full disk) leaves the previous checkpoint whole, no partial file, one clear error."
    out, real_save = tmp_path/'run', torch.save
    def full_disk(obj, f, *a, **k):
        if obj.get('epoch') == 2:
            Path(f).write_bytes(b'\0' * 1000)  # what was written before the disk filled
            raise OSError(28, 'No space left on device')
        return real_save(obj, f, *a, **k)
    with mock.patch('torch.save', full_disk), \
         pytest.raises(OSError, match=r"could not write .*checkpoint-2.pth .*No space left on device.*untouched"):
        pretrain(out=str(out), **{**TINY, 'epochs': 2})
    assert sorted(f.name for f in out.glob('checkpoint-*')) == ['checkpoint-1.pth']
    assert read_checkpoint(out/'checkpoint-1.pth')['epoch'] == 1

def test_settings_out_of_range(tmp_path, capsys):
    "Each setting out of range stops the command before any work, in one line naming it and the value given."
    out = str(tmp_path/'x')
    for argv, says in [(['--bs', '0'], 'bs must be a positive integer, got 0'),
                       (['--epochs', '0'], 'epochs must be a positive integer, got 0'),
                       (['--base-lr', '-1'], 'base_lr must be a positive number, got -1.0'),
                       (['--mask-ratio', '0'], 'mask_ratio must be in (0, 1): the loss is on the removed patches, '
                                               'so some must be removed; got 0.0'),
                       (['--mask-ratio', '1.5'], 'got 1.5'),
                       (['--augment', 'jitter'], "augment must be one of ['none', 'fixed_crop', 'random_crop', "
                                                 "'random_crop+jitter'], got 'jitter'")]:
        assert says in cli_error(['pretrain', *argv, '--out', out], capsys), argv
    assert not Path(out).exists()
    (tmp_path/'afile').write_text('')
    assert cli_error(['pretrain', '--out', str(tmp_path/'afile')], capsys) == \
        f"mae-nb pretrain: out must be a folder for the run's checkpoints and logs, got {tmp_path/'afile'}, " \
        "which is a file"

def test_config_files(tmp_path, capsys):
    "A settings file with an unknown name or a value of the wrong type is refused, naming the file and the setting."
    for text, says in [('foo: 1\n', "has settings PretrainConfig does not take: ['foo']"),
                       ('epochs: ten\n', 'epochs must be int, got \'ten\''),
                       ('bs: 2.5\n', 'bs must be int, got 2.5'),
                       ('base_lr: true\n', 'base_lr must be float, got True')]:
        f = tmp_path/'c.yaml'; f.write_text(text)
        assert says in cli_error(['pretrain', '--config', str(f), '--out', str(tmp_path/'x')], capsys), text
    f.write_text('base_lr: 3\nwarmup_epochs: null\n')  # an int where a float is expected is fine, and so is None
    assert _read_config(str(f), PretrainConfig, 'pretrain') == {'base_lr': 3, 'warmup_epochs': None}

def test_reconstruct_bad_checkpoints(tmp_path, capsys):
    "`reconstruct` on a checkpoint that is missing, random bytes, truncated or an image, and on a fake image."
    img = tmp_path/'shirt.png'; Image.fromarray(load_sample('valid')[0][0, 0].numpy()).save(img)
    (tmp_path/'random.pth').write_bytes(np.random.default_rng(0).bytes(5000))
    (tmp_path/'cut.pth').write_bytes(pretrained_path('fashion_mnist').read_bytes()[:100_000])
    (tmp_path/'fake.png').write_text('not an image')
    fig = str(tmp_path/'f.png')
    assert cli_error(['reconstruct', str(tmp_path/'missing.pth'), str(img), '-o', fig], capsys) == \
        f"mae-nb reconstruct: no checkpoint at {tmp_path/'missing.pth'}"
    for bad in ('random.pth', 'cut.pth', 'shirt.png'):
        msg = cli_error(['reconstruct', str(tmp_path/bad), str(img), '-o', fig], capsys)
        assert msg.startswith(f"mae-nb reconstruct: {tmp_path/bad} is not a readable checkpoint: "
                              "expected a file written by torch.save"), msg
        assert len(msg) < 400, msg
    assert cli_error(['reconstruct', 'fashion_mnist', str(tmp_path/'fake.png'), '-o', fig], capsys).startswith(
        f"mae-nb reconstruct: {tmp_path/'fake.png'} is not a readable image")
    assert not Path(fig).exists()
