"""Data-parallel runs on CPU: 2 processes, gloo backend, started with torchrun like a real multi-GPU run."""
import json, os, subprocess, sys
from pathlib import Path
import pytest, torch

HERE = Path(__file__).resolve().parent
JOBS = ('lp', 'lp_cached', 'ft', 'transfer')

@pytest.fixture(scope='module')
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp('ddp')
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1', 'CUDA_VISIBLE_DEVICES': ''}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
           str(HERE/'ddp_worker.py'), str(out)]
    try: res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as e:  # the ranks print their stacks and exit long before (ddp_worker.py)
        err = e.stderr.decode(errors='replace') if isinstance(e.stderr, bytes) else e.stderr or ''
        pytest.fail(f'the 2-process run hung; its stderr ends:\n{err[-12000:]}')
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-12000:]  # a hung rank's stacks, if one hung
    return out, [json.loads((out/f'rank{r}.json').read_text()) for r in range(2)]

def test_gloo_two_ranks(ranks):
    _, (r0, r1) = ranks
    assert (r0['world_size'], r1['world_size']) == (2, 2)
    assert r0['backend'] == r1['backend'] == 'gloo'

def test_ranks_see_disjoint_shards(ranks):
    _, (r0, r1) = ranks
    assert len(r0['seen']) == len(r1['seen']) == 2  # two epochs (the second one resumed)
    for a, b in zip(r0['seen'], r1['seen']):
        assert not set(a) & set(b), 'the two ranks trained on overlapping images'
        assert len(set(a) | set(b)) == r0['n_train']  # together they cover the training set
    assert r0['seen'][0] != r0['seen'][1]  # reshuffled every epoch

def test_parameters_identical_across_ranks(ranks):
    _, (r0, r1) = ranks
    assert r0['params_sha'] == r1['params_sha']
    for job in JOBS: assert r0['jobs'][job]['sha'] == r1['jobs'][job]['sha'], job  # gradients averaged: one model

def test_lr_follows_effective_batch(ranks):
    _, (r0, r1) = ranks
    assert r0['effective_batch'] == r1['effective_batch'] == 32 * 2
    assert abs(r0['lr'] - 1.5e-3 * 64 / 256) < 1e-12
    for job in JOBS: assert r0['jobs'][job]['effective_batch'] == 64, job

def test_only_rank0_writes(ranks):
    out, (r0, r1) = ranks
    assert r1['writes'] == []
    names = sorted(Path(p).name for p in r0['writes'] if Path(p).parent.name == 'run')
    assert names == ['checkpoint-1.pth', 'checkpoint-2.pth', 'loss.png', 'reconstructions.png']
    ck = torch.load(out/'run'/'checkpoint-2.pth', weights_only=True)
    assert len(ck['rng']) == ck['world_size'] == 2  # both ranks' random states, for an exact resume

@pytest.mark.parametrize('job', ('run',) + JOBS)
def test_run_files(ranks, job):
    "A run's folder: its final checkpoint only (save_every=1), settings, and log continued on resume (a row per epoch)."
    out, _ = ranks
    expected = ['checkpoint-2.pth', 'config.yaml', 'epochs.csv'] + (['loss.png', 'reconstructions.png', 'steps.csv']
                                                                    if job == 'run' else ['result.json'])
    assert sorted(p.name for p in (out/job).iterdir()) == expected
    assert len((out/job/'epochs.csv').read_text().splitlines()) == 1 + 2

@pytest.mark.parametrize('job', ('run',) + JOBS)
def test_returned_model_is_final(ranks, job):
    _, (r0, r1) = ranks
    key = (lambda r: r['pretrain_final']) if job == 'run' else (lambda r: r['jobs'][job]['final'])
    assert key(r0) and key(r1)  # the final checkpoint's weights, not those of the point the run resumed from

@pytest.mark.parametrize('job', JOBS)
def test_result_is_whole_validation_set(ranks, job):
    "result.json's top-1 is that of the final model on all 500 validation images, measured apart, not rank 0's shard."
    out, (r0, _) = ranks
    res = json.loads((out/job/'result.json').read_text())
    assert res['n_valid'] == 500 and abs(res['top1'] - r0['jobs'][job]['top1_here']) < 1e-6, \
        (res['top1'], r0['jobs'][job])

def test_non_finite_loss_stops_every_rank(ranks):
    _, (r0, r1) = ranks
    assert r1['nan'] and 'non-finite loss (nan) at epoch 0' in r1['nan']
    assert r0['nan'] and 'non-finite loss in another data-parallel process during epoch 0' in r0['nan']
