"""Keep napari's canvas in step with the SPARKS views.

* the selected neuron is outlined on the activity image and, when the recording has
  ROI masks, its ROI is shown alone in the labels layer;
* the time cursor is drawn on the activity image and drives napari's time slider for
  layers with a time axis (imaging movie, stimulus movie, decoded frames: their first
  axis has ``scale`` = frame period, so the slider is in seconds of the recording); moving
  that slider moves the cursor in the raster, decoding and attention views;
* for ``frames`` / ``frame_id`` targets, the decoded frames of the held-out examples are a
  napari Image layer placed beside the stimulus movie.
"""

from __future__ import annotations

import numpy as np

from ..napari.layers import MOVIE_ROLES, LayerRole, find_layers, tag

MARKER_LAYER = "SPARKS cursor"
DECODED_LAYER = "decoded frames"


def fit_view_to(viewer, layers, margin: float = 0.9) -> None:
    """Centre and zoom napari's 2-D view on ``layers`` (e.g. the visible movies, not a hidden activity image)."""
    boxes = [np.asarray(ly.extent.world)[:, -2:] for ly in layers]
    if not boxes:
        return
    lo = np.min([b[0] for b in boxes], 0)
    hi = np.max([b[1] for b in boxes], 0)
    size = np.maximum(hi - lo, 1e-9)
    canvas = np.asarray(getattr(viewer, "_canvas_size", (600, 800)), float)
    scene = getattr(viewer, "scene", None)  # napari >= 0.9 keeps the camera on viewer.scene
    camera = scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera
    camera.center = tuple((lo + hi) / 2)
    camera.zoom = float(margin * np.min(canvas / size))


class NapariLinks:
    def __init__(self, viewer, session):
        self.viewer = viewer
        self.session = session
        self._updating = False
        session.neuron_selected.connect(self._on_neuron)
        session.time_changed.connect(self._on_time)
        session.predictions_changed.connect(self._on_predictions)
        session.recording_changed.connect(lambda *_: self._remove_decoded())
        viewer.dims.events.current_step.connect(self._on_dims)
        viewer.layers.events.inserted.connect(lambda *_: self.label_time_axis())
        viewer.layers.events.removed.connect(lambda *_: self.label_time_axis())
        self.label_time_axis()

    # ----------------------------------------------------------- helpers
    def _activity_layer(self):
        layer = self.session.layer
        if layer is not None and layer in self.viewer.layers:
            return layer
        return None

    def _marker_layer(self):
        act = self._activity_layer()
        if act is None or not act.visible:
            return None
        if MARKER_LAYER in self.viewer.layers:
            return self.viewer.layers[MARKER_LAYER]
        layer = self.viewer.add_shapes(
            name=MARKER_LAYER,
            edge_color="#50c8ff",
            face_color="transparent",
            edge_width=1.5,
            scale=act.scale,
            translate=act.translate,
        )
        layer.editable = False if hasattr(layer, "editable") else None
        self.viewer.layers.selection.active = act
        return layer

    def _movie_layers(self):
        return [ly for ly in find_layers(self.viewer.layers, *MOVIE_ROLES) if ly.ndim >= 3]

    def time_offset_s(self) -> float:
        """Seconds from the recording's start to the training selection's start (raster time 0)."""
        rec, tr = self.session.recording, self.session.time_range
        return 0.0 if rec is None or tr is None else float(tr[0]) * float(rec.dt)

    def _time_axis(self) -> int | None:
        movies = self._movie_layers()
        if not movies:
            return None
        return self.viewer.dims.ndim - movies[0].ndim

    def time_axis_label(self) -> str | None:
        """The label of napari's time slider: it counts frames (napari's slider shows step numbers), so it
        says how long a frame is; the layers' time scale is in seconds."""
        axis = self._time_axis()
        if axis is None:
            return None
        step = float(self.viewer.dims.range[axis].step)
        return f"time (frame = {step:g} s)"

    def label_time_axis(self) -> None:
        """Name the time axis of movie layers (napari's default label is '-3')."""
        try:
            label = self.time_axis_label()
            if label is None:
                return
            axis = self._time_axis()
            labels = list(self.viewer.dims.axis_labels)
            if 0 <= axis < len(labels) and labels[axis] != label:
                labels[axis] = label
                self.viewer.dims.axis_labels = tuple(labels)
        except (AttributeError, IndexError, ValueError, RuntimeError):  # viewer closing: the label is cosmetic
            pass

    def _shapes(self) -> list[tuple[np.ndarray, str]]:
        act = self._activity_layer()
        if act is None:
            return []
        n_rows, n_cols = act.data.shape[-2:]
        out = []
        neuron = self.session.selected_neuron
        if neuron is not None and neuron >= 0:
            row = self.session.original_neuron_index(neuron)
            out.append(
                (
                    np.array(
                        [[row - 0.5, -0.5], [row - 0.5, n_cols - 0.5], [row + 0.5, n_cols - 0.5], [row + 0.5, -0.5]]
                    ),
                    "rectangle",
                )
            )
        rec = self.session.recording
        if rec is not None:
            col = self.session.time_s / rec.dt
            if 0 <= col < n_cols:
                out.append((np.array([[-0.5, col], [n_rows - 0.5, col]]), "line"))
        return out

    def _redraw_markers(self) -> None:
        shapes = self._shapes()
        layer = self._marker_layer() if shapes else (self.viewer.layers.get(MARKER_LAYER, None))
        if layer is None:
            return
        layer.data = []
        if shapes:
            layer.add(
                [s for s, _ in shapes],
                shape_type=[t for _, t in shapes],
                edge_color=["#50c8ff" if t == "rectangle" else "#ff5050" for _, t in shapes],
            )

    # --------------------------------------------------------- callbacks
    def _on_neuron(self, neuron: int) -> None:
        self._redraw_markers()
        for ly in find_layers(self.viewer.layers, LayerRole.ROIS):
            if hasattr(ly, "selected_label"):
                if neuron is not None and neuron >= 0:
                    ly.selected_label = self.session.original_neuron_index(neuron) + 1
                    ly.show_selected_label = True
                else:
                    ly.show_selected_label = False

    def _on_time(self, seconds: float) -> None:
        if self._updating:
            return
        self._updating = True
        try:
            self._redraw_markers()
            axis = self._time_axis()
            if axis is not None:
                self.viewer.dims.set_point(axis, seconds + self.time_offset_s())
        finally:
            self._updating = False

    def _on_dims(self, event=None) -> None:
        if self._updating:
            return
        axis = self._time_axis()
        if axis is None:
            return
        self._updating = True
        try:
            self.session.set_time(float(self.viewer.dims.point[axis]) - self.time_offset_s())
            self._redraw_markers()
        finally:
            self._updating = False

    # ----------------------------------------------------- decoded frames
    def _stimulus_layer(self):
        rec = self.session.recording
        found = find_layers(self.viewer.layers, LayerRole.STIMULUS, recording=rec) if rec is not None else []
        return found[0] if found else None

    def _remove_decoded(self) -> None:
        if DECODED_LAYER in self.viewer.layers:
            self.viewer.layers.remove(DECODED_LAYER)

    def _on_predictions(self, snap) -> None:
        """Show the decoded frames of a ``frames``/``frame_id`` run beside the stimulus movie."""
        from ..napari.frames import decoded_frames_for

        rec = self.session.recording
        stim = self._stimulus_layer()
        if rec is None or snap is None or stim is None:
            return
        t0 = 0 if self.session.time_range is None else int(self.session.time_range[0])
        made = decoded_frames_for(snap, rec, rec.n_time, t0)
        if made is None:
            return
        data, (sy, sx) = made
        H, W = stim.data.shape[-2:]
        gap = max(2.0, 0.1 * W)
        if DECODED_LAYER in self.viewer.layers:
            layer = self.viewer.layers[DECODED_LAYER]
            layer.data = data
            layer.scale = (float(rec.dt), sy, sx)
        else:
            keep = self.viewer.layers.selection.active
            layer = self.viewer.add_image(
                data,
                name=DECODED_LAYER,
                colormap="gray",
                contrast_limits=tuple(stim.contrast_limits),
                scale=(float(rec.dt), sy, sx),
                translate=(0.0, 0.0, W + gap),
                metadata=tag({"dt": float(rec.dt), "target": snap.target}, LayerRole.DECODED),
            )
            if keep is not None:
                self.viewer.layers.selection.active = keep
            fit_view_to(self.viewer, [stim, layer])
        layer.metadata["epoch"] = snap.epoch
