"""DEEP R rewiring (host/deepr.py): exact budgets, fixed signs, masked forward,
frozen dormant delays, learning at 10 % connectivity, CLI end to end."""
import json

import numpy as np
import pytest
import torch

from fenn_dma.cli import main
from fenn_dma.host.datasets import load_digits
from fenn_dma.host.deepr import DeepR, DeepRConfig, parse_connectivity
from fenn_dma.host.errors import ConfigError
from fenn_dma.host.network import TrainedNetwork, simulate
from fenn_dma.host.nir_io import from_nir, import_nir, to_nir
from fenn_dma.host.snn import SNN, HiddenConfig, NetConfig
from fenn_dma.host.train import TrainConfig, evaluate, train

torch.set_num_threads(1)

CONN = {"hidden0": 0.1, "hidden0.rec": 0.2, "hidden1": 0.15, "readout": 0.3}


def _model(delay_mode="none"):
    cfg = NetConfig(10, 3, [HiddenConfig(20, recurrent=True), HiddenConfig(16)], delay_mode=delay_mode,
                    max_delay=4, init_delay=0.5, seed=1)
    return SNN(cfg)


def _weights(model, dr):
    return {p.name: (model.w_rec[p.layer] if p.rec else model.w[p.layer]) for p in dr.projections}


def test_budget_exact_and_signs_fixed_under_random_gradients():
    model = _model()
    dense = _model()            # same seed: the dense initialisation DEEP R started from
    dr = DeepR(model, DeepRConfig(CONN, temperature=1e-4, l1=1e-3, seed=2))
    ws = _weights(model, dr)
    init_sign = {n: torch.where(w.detach() >= 0, 1.0, -1.0) for n, w in _weights(dense, dr).items()}
    sizes = {n: w.numel() for n, w in ws.items()}
    budgets = dr.budgets()
    assert budgets == {n: int(round(c * sizes[n])) for n, c in CONN.items()}
    signs = {p.name: p.sign.clone() for p in dr.projections}
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(3)
    turnover = {n: 0 for n in ws}
    for step in range(150):
        before = {n: model.mask(p.layer, p.rec).clone() for n, p in zip(ws, dr.projections)}
        opt.zero_grad()
        for p in model.parameters():        # random gradients, large enough to prune many connections
            p.grad = torch.randn(p.shape, generator=g) * 0.5
        for w, (n, p) in zip(ws.values(), zip(ws, dr.projections)):
            w.grad *= model.mask(p.layer, p.rec)   # what the masked forward gives a dormant weight
        opt.step()
        dr.step(opt)
        for p in dr.projections:
            w = ws[p.name].detach()
            m = model.mask(p.layer, p.rec)
            assert int(m.sum()) == p.budget, (step, p.name)
            assert torch.equal(w != 0, m), (step, p.name)                  # active <=> non-zero weight
            assert torch.all(w * signs[p.name] >= 0), (step, p.name)       # signs never flip
            turnover[p.name] += int((m & ~before[p.name]).sum())
    for n in ws:
        nz = ws[n].detach() != 0
        # the sign of a weight at the end is its sign at initialisation
        assert torch.equal(torch.sign(ws[n].detach())[nz], init_sign[n][nz])
        assert turnover[n] > budgets[n] // 2, (n, turnover[n])     # rewiring actually happened


def test_dormant_weights_are_zero_in_the_forward_and_get_no_gradient():
    model = _model().double()
    dr = DeepR(model, DeepRConfig(CONN, seed=0))
    x = (torch.rand(4, 15, 10, generator=torch.Generator().manual_seed(0)) < 0.3).double()
    with torch.no_grad():
        for w in list(model.w) + list(model.w_rec):   # strong enough to make the hidden layers spike
            w.mul_(3)
    ref = model(x).detach()
    with torch.no_grad():          # garbage in the dormant raw parameters must not matter
        for p in dr.projections:
            w = model.w_rec[p.layer] if p.rec else model.w[p.layer]
            w.add_(torch.where(model.mask(p.layer, p.rec), 0.0, 7.0))
    out = model(x)
    assert torch.equal(out.detach(), ref)
    out.sum().backward()
    for p in dr.projections:
        w = model.w_rec[p.layer] if p.rec else model.w[p.layer]
        dormant = ~model.mask(p.layer, p.rec)
        assert torch.all(w.grad[dormant] == 0) and w.grad[~dormant].abs().sum() > 0, p.name
        assert torch.all(model.effective_weights(p.layer, p.rec)[dormant] == 0)
    net = model.to_trained(15)
    np.testing.assert_allclose(simulate(net, x.numpy()), ref.numpy(), atol=1e-9)
    assert int(np.count_nonzero(net.layers[0].weights)) == dr.budgets()["hidden0"]


def test_dormant_delays_stay_frozen():
    model = _model("synapse")
    dr = DeepR(model, DeepRConfig({"hidden0": 0.2, "hidden1": 0.2}, temperature=1e-3, l1=1e-2, seed=4))
    opt = torch.optim.Adam([{"params": list(model.w) + [model.w_rec[0]], "lr": 0.05},
                            {"params": list(model.d), "lr": 0.5}])
    x = (torch.rand(8, 12, 10, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    y = torch.arange(8) % 3
    moved_active = 0
    for _ in range(12):
        masks = [model.mask(i).clone() for i in (0, 1)]
        d0 = [model.d[i].detach().clone() for i in (0, 1)]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        dormant_before = [~m for m in masks]
        for i in (0, 1):
            # dormant through the gradient step: delay untouched (zero gradient, state cleared)
            assert torch.equal(model.d[i].detach()[dormant_before[i]], d0[i][dormant_before[i]])
            moved_active += int((model.d[i].detach() != d0[i])[masks[i]].sum())
        dr.step(opt)
        model.clamp_delays()
    assert moved_active > 0     # active delays do learn
    net = model.to_trained(12)
    for i in (0, 1):            # exported: dormant synapses have weight 0 and delay 0; NIR round trip exact
        dormant = ~model.mask(i).numpy()
        assert np.all(net.layers[i].weights[dormant] == 0) and np.all(net.layers[i].delays[dormant] == 0)
        assert np.any(model.d[i].detach().numpy()[dormant] >= 0.5)    # not 0 in the model itself
    assert from_nir(to_nir(net)).equals(net)


def test_parse_connectivity_and_errors():
    assert parse_connectivity("0.1") == 0.1
    assert parse_connectivity("hidden0=0.1, hidden0.rec=0.05") == {"hidden0": 0.1, "hidden0.rec": 0.05}
    for bad, msg in (("1.5", r"\(0, 1\]"), ("0", r"\(0, 1\]"), ("hidden0", "projection=fraction"),
                     ("hidden0=x", "not a number")):
        with pytest.raises(ConfigError, match=msg):
            parse_connectivity(bad)
    with pytest.raises(ConfigError, match="allowed: hidden0, hidden0.rec, hidden1, readout"):
        DeepR(_model(), DeepRConfig({"hidden7": 0.1}))
    with pytest.raises(ConfigError, match="temperature"):
        DeepR(_model(), DeepRConfig(0.1, temperature=-1))
    dr = DeepR(_model(), DeepRConfig(0.5))     # one fraction: every hidden projection, not the readout
    assert sorted(dr.budgets()) == ["hidden0", "hidden0.rec", "hidden1"]


def test_digits_learn_at_10_percent_connectivity():
    bundle = load_digits(10)
    cfg = TrainConfig(dataset="digits", net={"hidden": [{"size": 40}]}, epochs=3, fine_tune_epochs=0,
                      batch_size=32, lr=5e-3, progress=False, deepr_connectivity=0.1, seed=0)
    r = train(cfg, bundle)
    losses = [h["train_loss"] for h in r.history]
    assert losses[-1] < 0.6 * losses[0], losses
    assert r.summary["test_acc"] > 0.5, r.summary          # chance: 0.1
    assert r.summary["deepr_active"] == r.summary["deepr_budget"] == {"hidden0": 256}
    assert sum(h["deepr_rewired"] for h in r.history) > 0
    net = r.model.to_trained(bundle.n_steps)
    assert np.count_nonzero(net.layers[0].weights) == 256
    test = bundle.splits["test"]
    acc_np = np.mean(simulate(net, test.spikes.numpy()).argmax(1) == test.labels.numpy())
    assert abs(acc_np - evaluate(r.model, test.dataset())[0]) < 0.02


def test_train_cli_with_deepr(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--out", str(out), "--dataset", "digits", "--steps", "8", "--hidden", "16",
               "--recurrent", "--delays", "synapse", "--max-delay", "3", "--epochs", "1",
               "--fine-tune-epochs", "1", "--qat-epochs", "1", "--qat-format", "auto8", "--max-batches", "4",
               "--batch-size", "32", "--no-progress", "--no-plots", "--export-nir", "--threads", "1",
               "--deepr-connectivity", "hidden0=0.1,hidden0.rec=0.2", "--deepr-temperature", "1e-5",
               "--deepr-l1", "1e-4"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["deepr_connectivity"] == "hidden0=0.1,hidden0.rec=0.2"
    assert m["summary"]["deepr_active"] == m["summary"]["deepr_budget"] == {"hidden0": 102, "hidden0.rec": 51}
    net = TrainedNetwork.load(out / "network.npz")
    # QAT may round a just-activated (theta = 0+) weight to 0, never create one
    assert 0 < np.count_nonzero(net.layers[0].weights) <= 102
    assert 0 < np.count_nonzero(net.layers[0].weights_rec) <= 51
    assert np.count_nonzero(net.layers[1].weights) > 0.9 * net.layers[1].weights.size   # readout dense
    assert import_nir(out / "network.nir").equals(net)
    for bad, msg in ((["--deepr-connectivity", "2"], "(0, 1]"), (["--deepr-connectivity", "hidden3=0.1"], "allowed")):
        rc = main(["train", "--out", str(tmp_path / "bad"), "--dataset", "digits", "--steps", "4",
                   "--no-progress"] + bad)
        assert rc == 1 and msg in capsys.readouterr().err
