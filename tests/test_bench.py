"""The benchmark scripts' own logic (their timings are never tests)."""
import importlib.util
from pathlib import Path

def _load(name):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1]/'bench'/f'{name}.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

def test_peak_table_matches_whole_card_names():
    gpu = _load('gpu')
    cases = {'NVIDIA H100 80GB HBM3': 989., 'NVIDIA H100 PCIe': 756., 'NVIDIA H100 NVL': 835., 'NVIDIA H200': 989.,
             'NVIDIA H200 NVL': 835., 'NVIDIA GH200 480GB': 989., 'NVIDIA L4': 121., 'NVIDIA L40': 181.,
             'NVIDIA L40S': 362., 'NVIDIA A100-SXM4-80GB': 312., 'NVIDIA A10G': 70., 'Tesla V100-SXM2-16GB': 125.,
             'NVIDIA GeForce RTX 4090': None}
    assert {n: gpu.peak_for_name(n) for n in cases} == cases

def test_encoder_design_table_reads_speed_ups_against_mask_tokens():
    enc = _load('encoder_design')
    row = lambda t, mb: dict(epoch_s=t, step_s=t, batch=8, peak_mb=mb, precision='fp32')
    res = {k: {'encoder with mask tokens': row(4., 800.), 'MAE': row(2., 400.), 'MAE, 1-block decoder': row(1., 200.)}
           for k in ('epoch', 'step')}
    table = enc.markdown(res)
    assert '| MAE | 2.00 s | 2.00× | 400 MB | 0.50 |' in table
    assert '| MAE, 1-block decoder | 1.00 s | 4.00× | 200 MB | 0.25 |' in table
    assert 'ViT-L: 2.8× (8-block decoder), 3.7× (1 block)' in table
