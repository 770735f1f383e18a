// maskprep._core: one pybind11 module, one bind_<concern>() per binding file.
#include <pybind11/pybind11.h>

#include "rle_objects.hpp"

namespace py = pybind11;

void bind_core(py::module_& m);
void bind_rle(py::module_& m);
void bind_polygon(py::module_& m);
void bind_roi_align(py::module_& m);
void bind_paste(py::module_& m);
void bind_pool(py::module_& m);
void bind_imgproc(py::module_& m);
void bind_morphology(py::module_& m);
void bind_components(py::module_& m);
void bind_contours(py::module_& m);
void bind_coco(py::module_& m);
void bind_targets(py::module_& m);
void bind_yolo(py::module_& m);
void bind_label_image(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "maskprep compiled kernels (use the maskprep package, not this module directly)";
  maskprep::bind::register_indexed_errors(m);
  bind_core(m);
  bind_rle(m);
  bind_polygon(m);
  bind_roi_align(m);
  bind_paste(m);
  bind_pool(m);
  bind_imgproc(m);
  bind_morphology(m);
  bind_components(m);
  bind_contours(m);
  bind_coco(m);
  bind_targets(m);
  bind_yolo(m);
  bind_label_image(m);
}
