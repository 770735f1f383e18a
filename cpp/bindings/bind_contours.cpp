// Bindings for mask -> COCO polygons (contours.hpp). The Python layer (maskprep.contours)
// coerces masks to C-ordered uint8 and checks dtypes; this file checks shapes, runs the kernel
// without the GIL and converts the polygons to lists of floats.
#include <cstdint>
#include <vector>

#include "bind_util.hpp"
#include "maskprep/contours.hpp"

namespace py = pybind11;
using namespace maskprep;

namespace {

using mask_array = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;

contours::Options make_options(double tolerance, bool holes, index_t min_area) {
  contours::Options o;
  o.tolerance = tolerance;
  o.holes = holes;
  o.min_area = min_area;
  contours::check_options(o);
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
      [](const mask_array& mask, double tolerance, bool holes, index_t min_area) {
        const contours::Options options = make_options(tolerance, holes, min_area);
        MASKPREP_CHECK(mask.ndim() == 2, "mask must have shape (H, W), got ",
                       bind::shape_str(mask));
        MASKPREP_CHECK(mask.size() > 0, "mask must not be empty, got shape ",
                       bind::shape_str(mask));
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
      [](const mask_array& masks, double tolerance, bool holes, index_t min_area,
         const py::object& num_threads) {
        const contours::Options options = make_options(tolerance, holes, min_area);
        MASKPREP_CHECK(masks.ndim() == 3, "masks must have shape (N, H, W), got ",
                       bind::shape_str(masks));
        MASKPREP_CHECK(masks.shape(1) > 0 && masks.shape(2) > 0,
                       "masks must not be empty images, got shape ", bind::shape_str(masks));
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
      py::arg("masks"), py::arg("tolerance"), py::arg("holes"), py::arg("min_area"),
      py::arg("num_threads") = py::none(),
      "COCO polygons of each of (N, H, W) masks, parallel across masks.");
}
