// Bindings for training-time mask targets (targets.hpp): COCO segmentations in, dense masks or
// RoI masks out. Polygon objects are flattened here and rasterized without the GIL; RLE dicts
// are not read here: their indices are returned for the Python layer to decode through
// maskprep.rle (crowd RLEs are rare in training data).
#include <pybind11/stl.h>

#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "bind_util.hpp"
#include "maskprep/targets.hpp"
#include "rle_objects.hpp"

namespace py = pybind11;
using namespace maskprep;

namespace {

using bind::type_name;

struct PolygonObjects {
  std::vector<double> xy;
  std::vector<index_t> poly_offsets{0}, obj_offsets{0};
  std::vector<index_t> rows;   // index in `segmentations` of each polygon object
  std::vector<index_t> dicts;  // indices of the RLE dicts, left to the caller
};

PolygonObjects read_objects(py::handle segs) {
  if (!PyList_Check(segs.ptr()) && !PyTuple_Check(segs.ptr()))
    throw py::type_error("segmentations must be a list of COCO segmentations, got " +
                         type_name(segs));
  const size_t n = static_cast<size_t>(PySequence_Fast_GET_SIZE(segs.ptr()));
  PyObject** items = PySequence_Fast_ITEMS(segs.ptr());
  PolygonObjects o;
  o.rows.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    PyObject* s = items[i];
    if (PyDict_Check(s)) {
      o.dicts.push_back(static_cast<index_t>(i));
      continue;
    }
    // Errors name segmentations[i] and carry i (IndexedValueError / IndexedTypeError).
    bind::for_object("segmentations", static_cast<index_t>(i), [&] {
      if (!PyList_Check(s) && !PyTuple_Check(s))
        throw py::type_error(" must be a polygon list [[x0, y0, ...], ...] or an RLE dict, got " +
                             type_name(s));
      const size_t np_ = static_cast<size_t>(PySequence_Fast_GET_SIZE(s));
      PyObject** polys = PySequence_Fast_ITEMS(s);
      for (size_t p = 0; p < np_; ++p) {
        bind::read_polygon(polys[p], o.xy, [p] { return "[" + std::to_string(p) + "]"; });
        o.poly_offsets.push_back(static_cast<index_t>(o.xy.size()));
      }
    });
    o.obj_offsets.push_back(static_cast<index_t>(o.poly_offsets.size() - 1));
    o.rows.push_back(static_cast<index_t>(i));
  }
  return o;
}

index_t polygon_count(const PolygonObjects& o) { return static_cast<index_t>(o.rows.size()); }

// Rasterizes the polygon objects of `segmentations` into out (N, h, w), bool or uint8, C order,
// writable; returns the indices of the RLE dicts (rows left untouched).
std::vector<index_t> dense_from_polygons(py::handle segs, index_t h, index_t w, py::array out,
                                         py::object num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  if (h < 0 || w < 0)
    throw py::value_error("height and width must be non-negative, got " + std::to_string(h) +
                          " x " + std::to_string(w));
  if (out.dtype().kind() != 'b' && !out.dtype().is(py::dtype::of<std::uint8_t>()))
    throw py::type_error("out must be a bool or uint8 array, got dtype " + bind::dtype_str(out));
  PolygonObjects o = read_objects(segs);
  const index_t n = static_cast<index_t>(PySequence_Fast_GET_SIZE(segs.ptr()));
  if (out.ndim() != 3 || out.shape(0) != n || out.shape(1) != h || out.shape(2) != w)
    throw py::value_error("out must have shape (" + std::to_string(n) + ", " + std::to_string(h) +
                          ", " + std::to_string(w) + "), got " + bind::shape_str(out));
  if (!(out.flags() & py::array::c_style)) throw py::value_error("out must be C-contiguous");
  if (!out.writeable()) throw py::value_error("out must be writable");
  auto* ptr = static_cast<byte_t*>(out.mutable_data());
  try {
    py::gil_scoped_release release;  // C++-owned coordinates; `out` is pinned by the caller
    targets::polygons_to_dense(o.xy.data(), o.poly_offsets.data(), o.obj_offsets.data(),
                               polygon_count(o), h, w, o.rows.data(), ptr, nt);
  } catch (const IndexedError& e) {  // the GIL is held again here
    bind::raise_indexed(false, "segmentations", e.index(), e.message());
  }
  return o.dicts;
}

template <typename T>
void run_within_boxes(const PolygonObjects& o, const py::array& boxes, index_t m, byte_t* out,
                      int nt) {
  auto b = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(boxes);
  if (!b) throw py::error_already_set();
  // Only the rows of the polygon objects, in their order.
  std::vector<T> picked(static_cast<size_t>(4 * polygon_count(o)));
  for (size_t k = 0; k < o.rows.size(); ++k)
    for (int c = 0; c < 4; ++c)
      picked[4 * k + static_cast<size_t>(c)] = b.data()[4 * o.rows[k] + c];
  try {
    py::gil_scoped_release release;  // C++-owned inputs; `out` is owned by the calling frame
    targets::polygons_within_boxes<T>(o.xy.data(), o.poly_offsets.data(), o.obj_offsets.data(),
                                      polygon_count(o), picked.data(), m, o.rows.data(), out, nt);
  } catch (const IndexedError& e) {  // the GIL is held again here
    bind::raise_indexed(false, "segmentations", e.index(), e.message());
  }
}

// detectron2's rasterize_polygons_within_box for every polygon object: returns the (N, M, M)
// bool masks (rows of RLE dicts zero) and the indices of the RLE dicts.
std::pair<py::array, std::vector<index_t>> within_boxes(py::handle segs, py::array boxes,
                                                        index_t mask_size, py::object num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  const bool f32 = boxes.dtype().is(py::dtype::of<float>());
  if (!f32 && !boxes.dtype().is(py::dtype::of<double>()))
    throw py::type_error("boxes must be a float32 or float64 array, got dtype " +
                         bind::dtype_str(boxes));
  PolygonObjects o = read_objects(segs);
  const index_t n = static_cast<index_t>(PySequence_Fast_GET_SIZE(segs.ptr()));
  if (boxes.ndim() != 2 || boxes.shape(1) != 4 || boxes.shape(0) != n)
    throw py::value_error("boxes must have shape (" + std::to_string(n) +
                          ", 4) [x0, y0, x1, y1], one per segmentation, got " +
                          bind::shape_str(boxes));
  // M*M*N bytes must fit in memory terms; 2^15 is far beyond any mask head.
  if (mask_size < 1 || mask_size > (index_t{1} << 15))
    throw py::value_error("mask_size must be in [1, 32768], got " + std::to_string(mask_size));
  py::array out(py::dtype("bool"), std::vector<py::ssize_t>{n, mask_size, mask_size});
  auto* ptr = static_cast<byte_t*>(out.mutable_data());
  std::memset(ptr, 0, static_cast<size_t>(n * mask_size * mask_size));
  if (f32) {
    run_within_boxes<float>(o, boxes, mask_size, ptr, nt);
  } else {
    run_within_boxes<double>(o, boxes, mask_size, ptr, nt);
  }
  return {out, o.dicts};
}

}  // namespace

void bind_targets(py::module_& m) {
  const auto nt = py::arg("num_threads") = py::none();
  m.def("targets_dense_from_polygons", &dense_from_polygons, py::arg("segmentations"),
        py::arg("height"), py::arg("width"), py::arg("out"), py::kw_only(), nt);
  m.def("targets_polygons_within_boxes", &within_boxes, py::arg("segmentations"), py::arg("boxes"),
        py::arg("mask_size"), py::kw_only(), nt);
}
