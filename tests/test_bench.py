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
             'NVIDIA H200 NVL': 835., 'NVIDIA GH200 480GB': 989., 'NVIDIA L4': 121., 'NVIDIA L40': 181., 'NVIDIA L40S': 362.,
             'NVIDIA A100-SXM4-80GB': 312., 'NVIDIA A10G': 70., 'Tesla V100-SXM2-16GB': 125., 'NVIDIA GeForce RTX 4090': None}
    assert {n: gpu.peak_for_name(n) for n in cases} == cases
