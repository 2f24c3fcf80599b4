#!/usr/bin/python3
"""Independent PyTorch cross-check of bench:quality's AnyAD numbers (not a test; minutes on 2 cores).

A separate implementation, written from ../../shared/golden/README.md's description of the
reference, of a tiny DINOv2-like encoder (random init like model/encoderWeights.ts, not
bit-identical), the INP-Former/AnyAD head, the adaptive cosine loss with its gradient hook, the
gather loss, per-sample modality masking over the 7 subsets, and the reference's map and top-1 %
score. Optimiser: torch AdamW with amsgrad (StableAdamW's settings otherwise), clip 0.1,
warm-cosine 1e-3 -> 1e-4. It asks one question: is the low image AUROC of the random-init
encoder a property of the features (reproduced here) or of our engine (it would not be)?
Mode `simmim-sub` first pretrains the encoder self-supervised (SimMIM: 50 % of the patches
masked, pixels of the masked patches regressed from the last block, random modality subsets)
on the same normal training slices, as a stand-in for a pretrained encoder.

  node --import tsx bench/torch-check/dump-slices.ts bench/out/quality/phantoms /tmp/slices.safetensors
  /usr/bin/python3 bench/torch-check/quality_check.py /tmp/slices.safetensors [random|simmim-sub] [pretrain steps]
"""
import os, sys, math, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'scripts', 'fixtures')); from safetensors_io import read_safetensors
from sklearn.metrics import roc_auc_score
torch.set_num_threads(2); torch.manual_seed(0)
data, _ = read_safetensors(sys.argv[1])
MODE = sys.argv[2] if len(sys.argv) > 2 else 'random'
PRE_STEPS = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
Xtr = torch.tensor(data['train']); Xte = torch.tensor(data['test']); M = torch.tensor(data['masks'].astype(np.float32))
labels = (M.flatten(1).max(1).values > 0).int().numpy()
KEEP = {1: [1,0,0], 2: [0,1,0], 3: [0,0,1], 4: [1,1,0], 5: [1,0,1], 6: [0,1,1], 7: [1,1,1]}
def sub(x, ids): return x * torch.tensor([KEEP[i] for i in ids], dtype=x.dtype).view(-1, 3, 1, 1)
D, H, P, S = 64, 4, 14, Xtr.shape[-1] // 14
class Attn(nn.Module):
    def __init__(s): super().__init__(); s.qkv = nn.Linear(D, 3*D); s.proj = nn.Linear(D, D)
    def forward(s, x):
        B, N, _ = x.shape; q, k, v = s.qkv(x).view(B, N, 3, H, D//H).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-1, -2) * (D//H) ** -0.5).softmax(-1); return s.proj((a @ v).transpose(1, 2).reshape(B, N, D))
class Mlp(nn.Module):
    def __init__(s): super().__init__(); s.fc1 = nn.Linear(D, 4*D); s.fc2 = nn.Linear(4*D, D)
    def forward(s, x): return s.fc2(F.gelu(s.fc1(x)))
class Block(nn.Module):
    def __init__(s): super().__init__(); s.n1 = nn.LayerNorm(D, eps=1e-6); s.at = Attn(); s.n2 = nn.LayerNorm(D, eps=1e-6); s.mlp = Mlp(); s.ls1 = nn.Parameter(torch.empty(D).uniform_(0.5, 1.5)); s.ls2 = nn.Parameter(torch.empty(D).uniform_(0.5, 1.5))
    def forward(s, x): x = x + s.ls1 * s.at(s.n1(x)); return x + s.ls2 * s.mlp(s.n2(x))
class ViT(nn.Module):
    def __init__(s):
        super().__init__(); s.pe = nn.Conv2d(3, D, P, P); s.cls = nn.Parameter(torch.randn(1, 1, D) * .02); s.pos = nn.Parameter(torch.randn(1, 1 + S*S, D) * .02)
        s.blocks = nn.ModuleList([Block() for _ in range(10)]); s.mask_token = nn.Parameter(torch.zeros(1, 1, D))
        for m in s.modules():
            if isinstance(m, nn.Linear): nn.init.trunc_normal_(m.weight, std=.02, a=-.04, b=.04); nn.init.normal_(m.bias, std=.02)
        for b in s.blocks: nn.init.normal_(b.at.qkv.weight, std=D ** -0.5)
        nn.init.normal_(s.pe.weight, std=(3*P*P) ** -0.5)
    def forward(s, x, mask=None):
        t = s.pe(x).flatten(2).transpose(1, 2)
        if mask is not None: t = torch.where(mask[..., None], s.mask_token.expand_as(t), t)
        t = torch.cat([s.cls.expand(len(t), -1, -1), t], 1) + s.pos
        outs = []
        for i, b in enumerate(s.blocks):
            t = b(t)
            if 2 <= i <= 9: outs.append(t[:, 1:])
        return outs
def pretrain(enc, steps):
    head = nn.Sequential(nn.LayerNorm(D), nn.Linear(D, 3*P*P))
    opt = torch.optim.AdamW(list(enc.parameters()) + list(head.parameters()), lr=1e-3, weight_decay=0.05)
    g = torch.Generator().manual_seed(1)
    for it in range(steps):
        idx = torch.randint(len(Xtr), (32,), generator=g); x = Xtr[idx]
        if MODE.endswith('sub'): x = sub(x, torch.randint(1, 8, (32,), generator=g).tolist())
        m = torch.rand(32, S*S, generator=g) < 0.5
        pred = head(enc(x, m)[-1])
        tgt = F.unfold(x, P, stride=P).transpose(1, 2)
        loss = ((pred - tgt) ** 2).mean(-1)[m].mean()
        for gr in opt.param_groups: gr['lr'] = 1e-3 * 0.5 * (1 + math.cos(math.pi * it / steps))
        opt.zero_grad(); loss.backward(); opt.step()
        if it % 500 == 0 or it == steps - 1: print(f'  pretrain {it} loss {loss.item():.4f}', flush=True)
class Agg(nn.Module):
    def __init__(s): super().__init__(); s.n1 = nn.LayerNorm(D, eps=1e-8); s.q = nn.Linear(D, D); s.kv = nn.Linear(D, 2*D); s.proj = nn.Linear(D, D); s.n2 = nn.LayerNorm(D, eps=1e-8); s.mlp = Mlp()
    def forward(s, p, x):
        B = x.shape[0]; q = s.q(s.n1(p)).view(B, -1, H, D//H).transpose(1, 2); k, v = s.kv(s.n1(x)).view(B, -1, 2, H, D//H).permute(2, 0, 3, 1, 4)
        a = (q * (D//H) ** -0.5 @ k.transpose(-1, -2)).softmax(-1); p = p + s.proj((a @ v).transpose(1, 2).reshape(B, -1, D)); return p + s.mlp(s.n2(p))
class Proto(nn.Module):
    def __init__(s): super().__init__(); s.n1 = nn.LayerNorm(D, eps=1e-8); s.q = nn.Linear(D, D); s.kv = nn.Linear(D, 2*D); s.proj = nn.Linear(D, D); s.n2 = nn.LayerNorm(D, eps=1e-8); s.mlp = Mlp(); s.scale = nn.Parameter(torch.ones(H, 1, 1))
    def forward(s, z, p):
        B = z.shape[0]; q = F.normalize(s.q(s.n1(z)).view(B, -1, H, D//H).transpose(1, 2), dim=-1); k, v = s.kv(s.n1(p)).view(B, -1, 2, H, D//H).permute(2, 0, 3, 1, 4); k = F.normalize(k, dim=-1)
        a = F.relu(q @ k.transpose(-1, -2) * s.scale); z = s.proj((a @ v).transpose(1, 2).reshape(B, -1, D)); return z + s.mlp(s.n2(z))
class HeadM(nn.Module):
    def __init__(s):
        super().__init__(); s.bott = Mlp(); s.inp = nn.Parameter(torch.randn(6, D)); s.agg = Agg(); s.dec = nn.ModuleList([Proto() for _ in range(8)])
        for m in s.modules():
            if isinstance(m, nn.Linear): nn.init.trunc_normal_(m.weight, std=.01, a=-.03, b=.03); nn.init.zeros_(m.bias)
    def forward(s, layers):
        x = torch.stack(layers, 1).mean(1); en = [torch.stack(layers[:4], 1).mean(1), torch.stack(layers[4:], 1).mean(1)]
        p = s.agg(s.inp.unsqueeze(0).expand(len(x), -1, -1), x)
        gl = (1 - F.cosine_similarity(x.unsqueeze(2), p.unsqueeze(1), dim=-1)).min(-1).values.mean()
        z = s.bott(x); outs = []
        for b in s.dec: z = b(z, p); outs.append(z)
        outs = outs[::-1]; de = [torch.stack(outs[:4], 1).mean(1), torch.stack(outs[4:], 1).mean(1)]
        return en, de, gl
def recon_loss(en, de):
    loss = 0
    for e, d in zip(en, de):
        e = e.detach(); pd = (1 - F.cosine_similarity(e, d, dim=-1)).detach(); w = (pd / pd.mean()) ** 3
        d2 = d + 0 * d; d2.register_hook(lambda g, w=w: g * w.unsqueeze(-1))
        loss = loss + (1 - F.cosine_similarity(e.flatten(1), d2.flatten(1), dim=-1)).mean()
    return loss / 2
def gk():
    x = torch.arange(5) - 2.; g = torch.exp(-(x[:, None] ** 2 + x[None] ** 2) / 32); return (g / g.sum()).view(1, 1, 5, 5)
GK = gk()
def train_head(enc, subsets, steps=400, seed=1):
    torch.manual_seed(seed); head = HeadM(); opt = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-4, amsgrad=True, eps=1e-10)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad(): feats = {s: enc(sub(Xtr, [s] * len(Xtr))) for s in subsets}
    for it in range(steps):
        idx = torch.randint(len(Xtr), (16,), generator=g); ss = [subsets[j] for j in torch.randint(len(subsets), (16,), generator=g).tolist()]
        layers = [torch.stack([feats[s][l][i] for i, s in zip(idx.tolist(), ss)]) for l in range(8)]
        en, de, gl = head(layers); loss = recon_loss(en, de) + 0.2 * gl
        w = min(1, (it + 1) / 80); lr = 1e-4 + (1e-3 - 1e-4) * 0.5 * (1 + math.cos(math.pi * it / steps)); lr *= w
        for gr in opt.param_groups: gr['lr'] = lr
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(head.parameters(), 0.1); opt.step()
    return head
@torch.no_grad()
def evaluate(enc, head, s):
    en, de, _ = head(enc(sub(Xte, [s] * len(Xte))))
    maps = sum((1 - F.cosine_similarity(e, d, dim=-1)).view(-1, 1, S, S) for e, d in zip(en, de)) / 2
    maps = F.interpolate(F.interpolate(maps, size=Xte.shape[-1], mode='bilinear', align_corners=True), size=256, mode='bilinear', align_corners=False)
    maps = F.conv2d(maps, GK, padding=2)
    score = maps.flatten(1).topk(655).values.mean(1).numpy()
    return roc_auc_score(labels, score), roc_auc_score(M.flatten().numpy(), maps.flatten().numpy())
t0 = time.time(); torch.manual_seed(1); enc = ViT()
if MODE.startswith('simmim'): pretrain(enc, PRE_STEPS)
enc.eval()
for p in enc.parameters(): p.requires_grad_(False)
print(MODE, 'pretrain done', round(time.time() - t0), 's', flush=True)
head = train_head(enc, list(range(1, 8)))
res = {s: evaluate(enc, head, s) for s in range(1, 8)}
print(MODE, 'AnyAD-like image AUROC', {s: round(r[0], 3) for s, r in res.items()}, 'mean', round(np.mean([r[0] for r in res.values()]), 3), 'pixel mean', round(np.mean([r[1] for r in res.values()]), 3), round(time.time() - t0), 's', flush=True)
