"""Control probe (docs/pipeline.md, "Learning-curve probes"): can Lingshu-Nano's fresh vision
tower learn the organ (head / chest / abdomen) of the demo's training images *without* the
language model? Vision tower + merger, mean-pooled, + a linear head; AdamW 1e-3, batch 16,
112x112 images; held-out accuracy on the demo's held-out images after each epoch.

    .venv/bin/python scripts/probe_vision_linear.py
"""
import json, time, random, torch
from pathlib import Path
from lingshu.models import ensure_nano_dir
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor
md = Path(ensure_nano_dir())
proc = AutoProcessor.from_pretrained(md); model = AutoModelForImageTextToText.from_pretrained(md, dtype=torch.float32)
vis = model.model.visual
root = Path(__file__).resolve().parents[1] / 'data' / 'demo'; labels = ['head', 'chest', 'abdomen']
rows = [json.loads(l) for l in open(root / 'images.jsonl')]
rows = [r for r in rows if r.get('organ') in labels and 'path' in r]
def enc(r):
    im = Image.open((root / r['path']).resolve()).convert('RGB').resize((112, 112))
    o = proc.image_processor(images=[im], return_tensors='pt', min_pixels=12544, max_pixels=12544)
    return o['pixel_values'], o['image_grid_thw'], labels.index(r['organ'])
tr = [enc(r) for r in rows if r['split'] == 'train']; te = [enc(r) for r in rows if r['split'] == 'heldout']
print('train', len(tr), 'heldout', len(te))
torch.manual_seed(0)
head = torch.nn.Linear(vis.merger.mlp[-1].out_features, 3)
params = list(vis.parameters()) + list(head.parameters())
opt = torch.optim.AdamW(params, lr=1e-3)
def feats(batch):
    pv = torch.cat([b[0] for b in batch]); thw = torch.cat([b[1] for b in batch])
    out = vis(pv, grid_thw=thw); e = out.pooler_output if hasattr(out, 'pooler_output') else out
    e = e if torch.is_tensor(e) else e[0]
    sizes = (thw.prod(-1) // 4).tolist()
    return torch.stack([x.mean(0) for x in torch.split(e, sizes)])
t0 = time.time(); rng = random.Random(0)
for epoch in range(8):
    vis.train(); rng.shuffle(tr)
    for i in range(0, len(tr), 16):
        b = tr[i:i + 16]
        loss = torch.nn.functional.cross_entropy(head(feats(b)), torch.tensor([x[2] for x in b]))
        loss.backward(); opt.step(); opt.zero_grad()
    vis.eval()
    with torch.no_grad():
        pred = torch.cat([head(feats(te[i:i + 32])).argmax(-1) for i in range(0, len(te), 32)])
    acc = (pred == torch.tensor([x[2] for x in te])).float().mean().item()
    print(f'epoch {epoch + 1}: train loss {loss.item():.3f} held-out acc {acc:.3f} ({time.time() - t0:.0f} s)', flush=True)
