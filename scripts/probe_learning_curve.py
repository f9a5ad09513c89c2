"""Learning-curve probe (docs/pipeline.md, "Learning-curve probes"): train Lingshu-Nano on a
pipeline stage-data file in phases and evaluate all of `lingshu-demo` through the evaluation
kit every EVAL_EVERY steps. Built from the package's own pieces (load_sft_data,
collate_padded, loss_sum, apply_freezing, param_groups, units_for_step with length grouping);
batch 16, bf16 autocast, cosine schedule per phase.

    .venv/bin/python scripts/probe_learning_curve.py RUN/data/stage1-shallow-alignment.jsonl \
        /tmp/curve 60 240:1e-3:1e-3:-:img
    # PHASE = steps:lr_vision:lr_merger:lr_llm (- = frozen):rows (all | img | mcq)
"""
import sys, time, json, shutil, torch
from pathlib import Path
from transformers import AutoModelForImageTextToText, AutoProcessor, get_scheduler
from lingshu.train.data.sft import load_sft_data
from lingshu.train.config import DataSource
from lingshu.train.data.packing import collate_padded, loss_sum
from lingshu.train.parts import apply_freezing, param_groups
from lingshu.train.sft import units_for_step
from lingshu.pipeline.recipe import Evaluation
from lingshu.train import benchmark_scores, evaluate_checkpoint
data, out, every = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
from lingshu.models import ensure_nano_dir
md = Path(sys.argv[4]) if sys.argv[4].startswith('/') else Path(ensure_nano_dir())
phases = sys.argv[5:] if sys.argv[4].startswith('/') else sys.argv[4:]
proc = AutoProcessor.from_pretrained(md)
model = AutoModelForImageTextToText.from_pretrained(md, dtype=torch.float32)
for cfg in (model.config, model.config.text_config, model.generation_config):
    cfg.eos_token_id = proc.tokenizer.eos_token_id; cfg.bos_token_id = proc.tokenizer.bos_token_id
allrows = data.read_text().splitlines()
pad = proc.tokenizer.pad_token_id or proc.tokenizer.eos_token_id
ev = Evaluation(batch_size=32, max_new_tokens=8, min_pixels=12544, max_pixels=12544, bootstrap_resamples=200,
                data_dir=Path(__file__).resolve().parents[1] / 'data' / 'benchmarks', benchmarks=['lingshu-demo'])
log = open(out / 'curve.jsonl', 'a'); t0 = time.time(); cpu0 = time.process_time(); gstep = 0
for pi, ph in enumerate(phases):
    n, lv, lm, ll, filt = ph.split(':'); n = int(n)
    rows = [l for l in allrows if filt == 'all' or (filt == 'img' and '"image"' in l) or (filt == 'mcq' and 'Options:' in l)]
    f = out / f'phase{pi}.jsonl'; f.write_text('\n'.join(rows) + '\n')
    samples, _ = load_sft_data([DataSource(path=f)], proc, max_length=256, min_pixels=12544, max_pixels=12544, seed=0)
    lengths = [s.length for s in samples]
    lrs = {'vision': float(lv), 'merger': float(lm), 'llm': None if ll == '-' else float(ll)}
    for p in model.parameters(): p.requires_grad_(True)
    apply_freezing(model, lrs); opt = torch.optim.AdamW(param_groups(model, lrs, 0.0))
    sch = get_scheduler('cosine', opt, num_warmup_steps=min(10, n // 10), num_training_steps=n)
    params = [p for p in model.parameters() if p.requires_grad]; cache = {}
    print('phase', pi, ph, 'samples', len(samples), flush=True)
    for step in range(1, n + 1):
        gstep += 1; model.train()
        idx = units_for_step(step - 1, len(samples), 16, pi, cache, lengths)
        b = collate_padded([samples[i] for i in idx], pad)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            l, k = loss_sum(model, b)
        if l.requires_grad: (l / k).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step(); sch.step(); opt.zero_grad()
        rec = {'phase': pi, 'step': gstep, 'loss': round(float(l.detach() / k), 4), 'len': b['inputs']['input_ids'].shape[1], 'wall': round(time.time() - t0, 1), 'cpu': round(time.process_time() - cpu0, 1)}
        if gstep % every == 0 or step == n:
            d = out / f'ckpt-{gstep}'; model.eval(); model.save_pretrained(d); proc.save_pretrained(d)
            te = time.time(); r = benchmark_scores(evaluate_checkpoint(d, ev, out / f'eval-{gstep}', progress=False))['lingshu-demo']
            rec.update(acc=r['accuracy'], invalid=r['invalid_rate'], eval_s=round(time.time() - te, 1))
            print(rec, flush=True)
            if step != n: shutil.rmtree(d)
        log.write(json.dumps(rec) + '\n'); log.flush()
