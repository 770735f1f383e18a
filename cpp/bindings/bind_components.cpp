// Bindings for connected components, hole filling and small-region removal (components.hpp).
// The Python layer (maskprep.components) turns tensors and lists into arrays; this file checks
// dtypes and shapes, allocates the outputs and runs the kernels (which check values) without
// the GIL.
#include <cstdint>

#include "bind_util.hpp"
#include "maskprep/components.hpp"

namespace py = pybind11;
using namespace maskprep;

namespace {

using mask_array = bind::byte_array;

mask_array checked_mask(const py::array& mask) {
  return bind::mask_bytes(mask, bind::non_empty(mask, 2), "mask",
                          "a non-empty (H, W) bool or uint8 array");
}

py::array_t<bool> empty_like_mask(const mask_array& mask) {
  return py::array_t<bool>({mask.shape(0), mask.shape(1)});
}

// Runs kernel(mask, h, w, out bytes, threads) into a new bool array.
template <typename Kernel>
py::array_t<bool> bool_op(const py::array& mask_in, const py::object& num_threads,
                          Kernel&& kernel) {
  const mask_array mask = checked_mask(mask_in);
  const int threads = bind::resolve_threads(num_threads);
  auto out = empty_like_mask(mask);
  const std::uint8_t* m = mask.data();
  auto* o = reinterpret_cast<byte_t*>(out.mutable_data());  // numpy bool is one byte, 0 or 1
  const index_t h = mask.shape(0), w = mask.shape(1);
  {
    // Safe without the GIL: the kernel touches only these buffers, which we keep alive.
    py::gil_scoped_release release;
    kernel(m, h, w, o, threads);
  }
  return out;
}

using RemoveSmall = void (*)(const byte_t*, index_t, index_t, index_t, int, byte_t*, int);

void def_remove_small(py::module_& m, const char* name, RemoveSmall kernel, const char* doc) {
  m.def(
      name,
      [kernel](const py::array& mask, index_t max_size, int connectivity,
               const py::object& num_threads) {
        return bool_op(mask, num_threads,
                       [&](const byte_t* in, index_t h, index_t w, byte_t* out, int threads) {
                         kernel(in, h, w, max_size, connectivity, out, threads);
                       });
      },
      py::arg("mask"), py::arg("max_size"), py::arg("connectivity"), py::kw_only(),
      py::arg("num_threads") = py::none(), doc);
}

}  // namespace

void bind_components(py::module_& m) {
  m.def(
      "label",
      [](const py::array& mask_in, int connectivity, bool stats, const py::object& num_threads) {
        const mask_array mask = checked_mask(mask_in);
        const int threads = bind::resolve_threads(num_threads);
        const index_t h = mask.shape(0), w = mask.shape(1);
        py::array_t<std::int32_t> labels({h, w});
        components::Stats s;
        index_t n = 0;
        const std::uint8_t* src = mask.data();
        std::int32_t* dst = labels.mutable_data();
        {
          // Safe without the GIL: the kernel touches only these buffers and `s`.
          py::gil_scoped_release release;
          n = components::label(src, h, w, connectivity, dst, stats ? &s : nullptr, threads);
        }
        if (!stats) return py::tuple(py::make_tuple(labels, n));
        py::array_t<std::int64_t> area(n), bbox({n, index_t(4)});
        py::array_t<double> centroid({n, index_t(2)});
        std::copy(s.area.begin(), s.area.end(), area.mutable_data());
        std::copy(s.bbox.begin(), s.bbox.end(), bbox.mutable_data());
        std::copy(s.centroid.begin(), s.centroid.end(), centroid.mutable_data());
        return py::tuple(py::make_tuple(labels, n, area, bbox, centroid));
      },
      py::arg("mask"), py::arg("connectivity"), py::arg("stats"), py::kw_only(),
      py::arg("num_threads") = py::none(),
      "(labels int32 (H, W), n) or, with stats, (labels, n, area (n,), bbox (n, 4), centroid (n, "
      "2)).");
  m.def(
      "fill_holes",
      [](const py::array& mask, const py::object& num_threads) {
        return bool_op(mask, num_threads,
                       [](const byte_t* in, index_t h, index_t w, byte_t* out, int threads) {
                         components::fill_holes(in, h, w, out, threads);
                       });
      },
      py::arg("mask"), py::kw_only(), py::arg("num_threads") = py::none(),
      "scipy.ndimage.binary_fill_holes (default structure) of a 2-d mask, as bool.");
  def_remove_small(m, "remove_small_objects", components::remove_small_objects,
                   "skimage remove_small_objects: drops foreground components of at most "
                   "max_size pixels.");
  def_remove_small(m, "remove_small_holes", components::remove_small_holes,
                   "skimage remove_small_holes: fills background components of at most max_size "
                   "pixels.");
}
