"""List the decimal numbers in a notebook's prose that none of its cells prints or states in code.

    python tools/prose_numbers.py nbs/08a_pretrain_evidence.ipynb nbs/1*.ipynb

A reading quotes the numbers a cell above it printed; when a rerun changes them, the prose must change too. This
lists, per markdown cell, each decimal number (e.g. 91.5, 0.31) that appears in no code cell's source or printed
output of the same notebook, after rounding the printed ones to one and two decimals and fractions to percentages.
What it lists is either stale, derived by hand (print it), or quoted from the paper (leave it: the paper's numbers
sit in the prose and in the tables of `mae_nb.ablations`). Code spans and figure or table references are skipped.
"""
import json, re, sys

NUM = re.compile(r'(?<![\w.])(\d[\d,]*\.\d+|\d[\d,]*)(?![\w])')

def printed(nb:dict) -> set: # every number a code cell states or prints, at the roundings prose uses
    text = ''
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        text += ''.join(c['source']) + '\n'
        for o in c.get('outputs', []):
            text += ''.join(o.get('text', '')) + ''.join(o.get('data', {}).get('text/plain', ''))
    have = set()
    for m in NUM.findall(text):
        v = float(m.replace(',', ''))
        have |= {m.replace(',', ''), f'{v:.1f}', f'{v:.2f}'}
        if v < 1: have |= {f'{100 * v:.1f}', f'{100 * v:.2f}', f'{v:.2f}'}
    return have

def unprinted(path:str) -> list: # [(cell index, [numbers])]
    nb = json.load(open(path))
    have, out = printed(nb), []
    for i, c in enumerate(nb['cells']):
        src = ''.join(c['source'])
        if c['cell_type'] != 'markdown' or src.startswith('#| export'): continue
        src = re.sub(r'\((?:Fig|Table|§)[^)]*\)', '', re.sub(r'`[^`]*`', '', src))
        miss = [m for m in NUM.findall(src) if '.' in m and m.replace(',', '') not in have]
        if miss: out.append((i, miss))
    return out

if __name__ == '__main__':
    for p in sys.argv[1:]:
        for i, miss in unprinted(p): print(f"{p} cell {i}: {' '.join(miss)}")
