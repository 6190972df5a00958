#!/usr/bin/python3
"""U-Net throughput in Python PyTorch: the peer of bench/unet_bench.cpp.

The same network as dm::nn::UNet (common/src/nn/unet.cpp), layer for layer, so the parameter
counts printed by both must agree; the same training step and DDIM-50 loop; the same timing
protocol (median of `repeats` runs after a warm-up). Run with Debian's python3-torch:

    /usr/bin/python3 bench/unet_bench.py --threads 2 --batch 64 --repeats 3
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


def zero_(conv):
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(temb, 2 * cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = zero_(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return (self.skip(x) if self.skip is not None else x) + h


class Attention(nn.Module):
    def __init__(self, ch, heads, groups):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = zero_(nn.Conv2d(ch, ch, 1))

    def forward(self, x):
        B, C, H, W = x.shape
        d = C // self.heads
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, self.heads, d, H * W).unbind(1)
        w = torch.softmax(torch.einsum("bhdi,bhdj->bhij", q, k) / math.sqrt(d), dim=-1)
        return x + self.proj(torch.einsum("bhij,bhdj->bhdi", w, v).reshape(B, C, H, W))


class Down(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Up(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    def __init__(self, image_size=28, in_ch=1, width=32, mults=(1, 2, 2), res_blocks=1, attn=(7,), heads=1, groups=8):
        super().__init__()
        temb = 4 * width
        self.width = width
        self.temb1, self.temb2 = nn.Linear(width, temb), nn.Linear(temb, temb)
        self.conv_in = nn.Conv2d(in_ch, width, 3, padding=1)
        self.down, self.down_kinds, skip_ch = nn.ModuleList(), "", [width]
        ch, res = width, image_size
        for l, m in enumerate(mults):
            out = width * m
            for _ in range(res_blocks):
                self.down.append(ResBlock(ch, out, temb, groups)); self.down_kinds += "R"; ch = out
                if res in attn:
                    self.down.append(Attention(ch, heads, groups)); self.down_kinds += "A"
                skip_ch.append(ch)
            if l + 1 < len(mults):
                self.down.append(Down(ch)); self.down_kinds += "D"; res //= 2; skip_ch.append(ch)
        self.mid = nn.ModuleList([ResBlock(ch, ch, temb, groups), Attention(ch, heads, groups),
                                  ResBlock(ch, ch, temb, groups)])
        self.up, self.up_kinds = nn.ModuleList(), ""
        for l in reversed(range(len(mults))):
            out = width * mults[l]
            for _ in range(res_blocks + 1):
                self.up.append(ResBlock(ch + skip_ch.pop(), out, temb, groups)); self.up_kinds += "R"; ch = out
                if res in attn:
                    self.up.append(Attention(ch, heads, groups)); self.up_kinds += "A"
            if l > 0:
                self.up.append(Up(ch)); self.up_kinds += "U"; res *= 2
        self.norm_out = nn.GroupNorm(groups, ch)
        self.conv_out = zero_(nn.Conv2d(ch, in_ch, 3, padding=1))

    def forward(self, x, t):
        emb = self.temb2(F.silu(self.temb1(timestep_embedding(t, self.width))))
        h = self.conv_in(x)
        skips = [h]
        for i, (kind, mod) in enumerate(zip(self.down_kinds, self.down)):
            h = mod(h, emb) if kind == "R" else mod(h)
            if not (i + 1 < len(self.down_kinds) and self.down_kinds[i + 1] == "A"):
                skips.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, emb)), emb)
        for kind, mod in zip(self.up_kinds, self.up):
            h = mod(torch.cat([h, skips.pop()], dim=1), emb) if kind == "R" else mod(h)
        return self.conv_out(F.silu(self.norm_out(h)))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--compile", action="store_true", help="torch.compile (PyTorch >= 2.0)")
    ap.add_argument("--profile", metavar="FILE",
                    help="afterwards, write a chrome trace of --train-steps training steps here (the legacy "
                         "autograd profiler, as the C++ side uses)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = UNet()
    model = torch.compile(net) if a.compile else net
    T, B, steps = 1000, a.batch, 50
    alpha_bar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, T, dtype=torch.float64), 0).float()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-4, weight_decay=0.0)
    x0 = torch.rand(B, 1, 28, 28) * 2 - 1

    phase = [0.0] * 4  # forward (noising, loss), backward (zero_grad), clip, AdamW: seconds, summed

    def train_step():
        t0 = time.perf_counter()
        t = torch.randint(0, T, (B,))
        eps = torch.randn_like(x0)
        ab = alpha_bar[t].view(-1, 1, 1, 1)
        loss = F.mse_loss(model(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, t), eps)
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        for i, d in enumerate((t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            phase[i] += d

    @torch.no_grad()
    def ddim():
        x = torch.randn(B, 1, 28, 28)
        stride = T // steps
        for i in reversed(range(steps)):
            t, t_prev = i * stride + 1, i * stride + 1 - stride
            ab = alpha_bar[t].item()
            ab_prev = alpha_bar[t_prev].item() if t_prev >= 0 else 1.0
            eps = model(x, torch.full((B,), t, dtype=torch.long))
            x0_hat = (x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)
            x = math.sqrt(ab_prev) * x0_hat + math.sqrt(1 - ab_prev) * eps
        return x

    net.train()
    train_step()
    train_ips = []
    phase[:] = [0.0] * 4
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for _ in range(a.train_steps):
            train_step()
        train_ips.append(B * a.train_steps / (time.perf_counter() - t0))
    net.eval()
    ddim()
    ddim_ips = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        ddim()
        ddim_ips.append(B / (time.perf_counter() - t0))
    if a.profile:
        net.train()
        t0 = time.perf_counter()
        with torch.autograd.profiler.profile(use_kineto=False) as prof:
            for _ in range(a.train_steps):
                train_step()
        prof.export_chrome_trace(a.profile)
        print(f"profiled {a.train_steps} training steps in {time.perf_counter() - t0:.2f} s -> {a.profile}",
              file=sys.stderr)
    print(json.dumps({"impl": f"Python PyTorch {torch.__version__}{' compiled' if a.compile else ' eager'}",
                      "params": sum(p.numel() for p in net.parameters()), "threads": a.threads,
                      "intra_op_threads": torch.get_num_threads(), "inter_op_threads": torch.get_num_interop_threads(),
                      "batch": B,
                      "phase_ms": {k: round(1e3 * v / (a.repeats * a.train_steps), 1)
                                   for k, v in zip(("forward", "backward", "clip", "adamw"), phase)},
                      "train_images_per_s": round(statistics.median(train_ips), 2),
                      "ddim50_images_per_s": round(statistics.median(ddim_ips), 2)}))


if __name__ == "__main__":
    main()
