"""The training figures (host/plots.py) carry what they should: curves of training
and validation loss and accuracy, a raster with its title, labels, inputs and
prediction, and a delay histogram only when there are delays."""
import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="matplotlib not installed (pip install -e '.[train]')")
from fenn_dma.host import plots  # noqa: E402

HISTORY = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.3 * e, "val_loss": 1.2 / e, "val_acc": 0.25 * e}
           for e in (1, 2, 3)]


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_curves_show_training_and_validation_loss_and_accuracy():
    fig = plots.curves(HISTORY)
    loss, acc = fig.axes
    assert (loss.get_title(), loss.get_xlabel(), loss.get_ylabel()) == ("loss per epoch", "epoch", "loss")
    assert (acc.get_title(), acc.get_ylabel()) == ("accuracy per epoch", "accuracy")
    np.testing.assert_allclose(_lines(loss)["validation"].get_ydata(), [1.2, 0.6, 0.4])
    np.testing.assert_allclose(_lines(loss)["train"].get_ydata(), [1.0, 0.5, 1 / 3])
    np.testing.assert_allclose(_lines(acc)["validation"].get_ydata(), [0.25, 0.5, 0.75])
    assert [t.get_text() for t in loss.get_legend().get_texts()] == ["train", "validation"]
    # a run without a validation split: training lines only
    bare = plots.curves([{k: v for k, v in h.items() if not k.startswith("val")} for h in HISTORY])
    assert set(_lines(bare.axes[0])) == {"train"}


def test_raster_has_title_labels_inputs_and_prediction():
    rng = np.random.default_rng(0)
    inputs = rng.random((1, 20, 5)) < 0.2
    hidden = rng.random((1, 20, 8)) < 0.3
    readout = rng.normal(size=(1, 20, 3))
    fig = plots.raster([hidden, readout], inputs=inputs, prediction=2, label=1)
    ax_in, ax_hid, ax_out = fig.axes
    assert ax_in.get_title() == "spikes and readout of one test sample: predicted 2, label 1"
    assert (ax_in.get_ylabel(), ax_hid.get_ylabel(), ax_out.get_ylabel()) == \
        ("input neuron", "hidden 0 neuron", "readout V")
    assert ax_out.get_xlabel() == "time step"
    # every input and hidden spike is a point at (step, neuron)
    for ax, spikes in ((ax_in, inputs[0]), (ax_hid, hidden[0])):
        pts = ax.collections[0].get_offsets()
        assert sorted(map(tuple, np.asarray(pts).astype(int).tolist())) == sorted(zip(*map(list, np.nonzero(spikes))))
    lines = _lines(ax_out)
    assert set(lines) == {"class 0", "class 1", "class 2"}
    assert lines["class 2"].get_linewidth() > lines["class 0"].get_linewidth()   # the prediction stands out
    np.testing.assert_allclose(lines["class 1"].get_ydata(), readout[0, :, 1])


def test_delay_histogram_only_with_delays(tmp_path):
    assert plots.delay_histogram([np.zeros((8, 5), int), np.zeros((3, 8), int)]) is None
    fig = plots.delay_histogram([np.array([[0, 1, 2], [2, 2, 0]]), np.zeros((2, 2), int)])
    ax = fig.axes[0]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("learned delays", "delay (steps)", "synapses")
    heights = [p.get_height() for p in ax.containers[0].patches]
    assert heights == [2, 1, 3]            # projection 0: two 0s, one 1, three 2s

    run = dict(history=HISTORY, inputs=np.zeros((1, 4, 2)), traces=[np.zeros((1, 4, 3)), np.zeros((1, 4, 2))],
               prediction=0, label=0)
    (tmp_path / "delays.png").write_bytes(b"an earlier run's")
    written = plots.plot_run(tmp_path, delays=[np.zeros((3, 2), int)], **run)
    assert sorted(p.name for p in written) == ["curves.png", "raster.png"]
    assert not (tmp_path / "delays.png").exists()
    written = plots.plot_run(tmp_path, delays=[np.ones((3, 2), int)], **run)
    assert (tmp_path / "delays.png").read_bytes()[:4] == b"\x89PNG" and len(written) == 3
