// Bindings for mask -> COCO polygons (contours.hpp). The Python layer (maskprep.contours) turns
// tensors and lists into arrays; this file checks dtypes and shapes, runs the kernel (which
// checks the options) without the GIL and converts the polygons to lists of floats.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "bind_util.hpp"
#include "maskprep/contours.hpp"

namespace py = pybind11;
using namespace maskprep;

namespace {

contours::Options make_options(double tolerance, bool holes, index_t min_area) {
  contours::Options o;
  o.tolerance = tolerance;
  o.holes = holes;
  o.min_area = min_area;
  return o;
}

py::list to_python(const std::vector<contours::Polygon>& polys) {
  py::list out(polys.size());
  for (size_t i = 0; i < polys.size(); ++i) {
    py::list xy(polys[i].size());
    for (size_t j = 0; j < polys[i].size(); ++j) xy[j] = py::float_(polys[i][j]);
    out[i] = std::move(xy);
  }
  return out;
}

}  // namespace

void bind_contours(py::module_& m) {
  m.def(
      "mask_to_polygons",
      [](const py::array& mask_in, double tolerance, bool holes, index_t min_area) {
        const contours::Options options = make_options(tolerance, holes, min_area);
        const auto mask = bind::mask_bytes(mask_in, bind::non_empty(mask_in, 2), "mask",
                                           "a non-empty (H, W) bool or uint8 array");
        std::vector<contours::Polygon> polys;
        const std::uint8_t* src = mask.data();
        const index_t h = mask.shape(0), w = mask.shape(1);
        {
          // Safe without the GIL: the kernel reads only this buffer and writes `polys`.
          py::gil_scoped_release release;
          contours::mask_to_polygons(src, h, w, options, polys);
        }
        return to_python(polys);
      },
      py::arg("mask"), py::arg("tolerance"), py::arg("holes"), py::arg("min_area"),
      "COCO polygons (flat [x0, y0, ...] lists) of one (H, W) mask.");
  m.def(
      "masks_to_polygons",
      [](const py::array& masks_in, double tolerance, bool holes, index_t min_area,
         const py::object& num_threads) {
        const contours::Options options = make_options(tolerance, holes, min_area);
        constexpr const char* expected = "an (N, H, W) bool or uint8 array with non-empty images";
        const auto masks = bind::mask_bytes(
            masks_in, masks_in.ndim() == 3 && masks_in.shape(1) > 0 && masks_in.shape(2) > 0,
            "masks", expected);
        const int threads = bind::resolve_threads(num_threads);
        std::vector<std::vector<contours::Polygon>> polys;
        const std::uint8_t* src = masks.data();
        const index_t n = masks.shape(0), h = masks.shape(1), w = masks.shape(2);
        {
          // Safe without the GIL: the kernel reads only this buffer and writes `polys`.
          py::gil_scoped_release release;
          contours::masks_to_polygons(src, n, h, w, options, polys, threads);
        }
        py::list out(polys.size());
        for (size_t i = 0; i < polys.size(); ++i) out[i] = to_python(polys[i]);
        return out;
      },
      py::arg("masks"), py::arg("tolerance"), py::arg("holes"), py::arg("min_area"), py::kw_only(),
      py::arg("num_threads") = py::none(),
      "COCO polygons of each of (N, H, W) masks, parallel across masks.");
  m.def(
      "masks_to_polygon_arrays",
      [](const py::array& masks_in, double tolerance, bool holes, index_t min_area,
         const py::object& num_threads) {
        const contours::Options options = make_options(tolerance, holes, min_area);
        constexpr const char* expected = "an (N, H, W) bool or uint8 array with non-empty images";
        const auto masks = bind::mask_bytes(
            masks_in, masks_in.ndim() == 3 && masks_in.shape(1) > 0 && masks_in.shape(2) > 0,
            "masks", expected);
        const int threads = bind::resolve_threads(num_threads);
        std::vector<std::vector<contours::Polygon>> polys;
        const std::uint8_t* src = masks.data();
        const index_t n = masks.shape(0), h = masks.shape(1), w = masks.shape(2);
        py::ssize_t parts = 0, values = 0;
        {
          py::gil_scoped_release release;  // as masks_to_polygons
          contours::masks_to_polygons(src, n, h, w, options, polys, threads);
          for (const auto& object : polys) {
            parts += static_cast<py::ssize_t>(object.size());
            for (const auto& p : object) values += static_cast<py::ssize_t>(p.size());
          }
        }
        // The same polygons as three arrays, without a Python float per coordinate.
        py::array_t<double> xy({values / 2, py::ssize_t{2}});
        py::array_t<std::int64_t> part_points(parts);
        py::array_t<std::int64_t> object_parts(static_cast<py::ssize_t>(n));
        double* p_xy = xy.mutable_data();
        std::int64_t* p_pp = part_points.mutable_data();
        std::int64_t* p_op = object_parts.mutable_data();
        for (const auto& object : polys) {
          *p_op++ = static_cast<std::int64_t>(object.size());
          for (const auto& p : object) {
            *p_pp++ = static_cast<std::int64_t>(p.size() / 2);
            p_xy = std::copy(p.begin(), p.end(), p_xy);
          }
        }
        return py::make_tuple(std::move(xy), std::move(part_points), std::move(object_parts));
      },
      py::arg("masks"), py::arg("tolerance"), py::arg("holes"), py::arg("min_area"), py::kw_only(),
      py::arg("num_threads") = py::none(),
      "masks_to_polygons as arrays: (xy (P, 2) float64, part_points, object_parts)");
}
