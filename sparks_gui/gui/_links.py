"""Keep napari's canvas in step with the SPARKS views.

* the selected neuron is outlined on the activity image and, when the recording has
  ROI masks, its ROI is shown alone in the labels layer;
* the time cursor is drawn on the activity image and drives napari's dims slider for
  layers with a time axis (imaging movies, decoded frames); moving that slider moves
  the cursor in the raster and decoding views.
"""

from __future__ import annotations

import numpy as np

MARKER_LAYER = "SPARKS cursor"


class NapariLinks:
    def __init__(self, viewer, session):
        self.viewer = viewer
        self.session = session
        self._updating = False
        session.neuron_selected.connect(self._on_neuron)
        session.time_changed.connect(self._on_time)
        viewer.dims.events.current_step.connect(self._on_dims)

    # ----------------------------------------------------------- helpers
    def _activity_layer(self):
        layer = self.session.layer
        if layer is not None and layer in self.viewer.layers:
            return layer
        return None

    def _marker_layer(self):
        act = self._activity_layer()
        if act is None:
            return None
        if MARKER_LAYER in self.viewer.layers:
            return self.viewer.layers[MARKER_LAYER]
        layer = self.viewer.add_shapes(name=MARKER_LAYER, edge_color="#50c8ff", face_color="transparent",
                                       edge_width=1.5, scale=act.scale, translate=act.translate)
        layer.editable = False if hasattr(layer, "editable") else None
        self.viewer.layers.selection.active = act
        return layer

    def _movie_layers(self):
        return [ly for ly in self.viewer.layers if ly.ndim >= 3 and (
            ly.metadata.get("sparks_movie") or ly.metadata.get("sparks_frames"))]

    def _shapes(self) -> list[tuple[np.ndarray, str]]:
        act = self._activity_layer()
        if act is None:
            return []
        n_rows, n_cols = act.data.shape[-2:]
        out = []
        neuron = self.session.selected_neuron
        if neuron is not None and neuron >= 0:
            row = self.session.original_neuron_index(neuron)
            out.append((np.array([[row - 0.5, -0.5], [row - 0.5, n_cols - 0.5], [row + 0.5, n_cols - 0.5],
                                  [row + 0.5, -0.5]]), "rectangle"))
        rec = self.session.recording
        if rec is not None:
            col = self.session.time_s / rec.dt
            if 0 <= col < n_cols:
                out.append((np.array([[-0.5, col], [n_rows - 0.5, col]]), "line"))
        return out

    def _redraw_markers(self) -> None:
        shapes = self._shapes()
        layer = self._marker_layer() if shapes else (self.viewer.layers[MARKER_LAYER] if MARKER_LAYER in self.viewer.layers else None)
        if layer is None:
            return
        layer.data = []
        if shapes:
            layer.add([s for s, _ in shapes], shape_type=[t for _, t in shapes],
                      edge_color=["#50c8ff" if t == "rectangle" else "#ff5050" for _, t in shapes])

    # --------------------------------------------------------- callbacks
    def _on_neuron(self, neuron: int) -> None:
        self._redraw_markers()
        for ly in self.viewer.layers:
            if ly.metadata.get("sparks_rois") and hasattr(ly, "selected_label"):
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
            for ly in self._movie_layers():
                dt = float(ly.metadata.get("dt") or (self.session.recording.dt if self.session.recording else 1.0))
                frame = int(round(seconds / dt))
                axis = self.viewer.dims.ndim - ly.ndim
                step = list(self.viewer.dims.current_step)
                step[axis] = int(np.clip(frame, 0, ly.data.shape[0] - 1))
                self.viewer.dims.current_step = tuple(step)
                break
        finally:
            self._updating = False

    def _on_dims(self, event=None) -> None:
        if self._updating:
            return
        movies = self._movie_layers()
        if not movies:
            return
        ly = movies[0]
        dt = float(ly.metadata.get("dt") or (self.session.recording.dt if self.session.recording else 1.0))
        axis = self.viewer.dims.ndim - ly.ndim
        self._updating = True
        try:
            self.session.set_time(self.viewer.dims.current_step[axis] * dt)
            self._redraw_markers()
        finally:
            self._updating = False
