// Bindings for the YOLO label lines (yolo.hpp): check the arrays, allocate the text and run the
// kernel without the GIL. maskprep.formats.yolo builds the arrays and slices the text per file.
#include <cstdint>
#include <string>
#include <utility>

#include "bind_util.hpp"
#include "maskprep/yolo.hpp"

namespace py = pybind11;
using namespace maskprep;

namespace {

template <typename T>
bind::carray<T> checked(const py::array& a, bool shape_ok, const char* name, const char* expected) {
  bind::check_array(a, bind::has_dtype<T>(a), shape_ok, name, expected);
  return bind::carray<T>::ensure(a);
}

py::tuple label_lines(const py::array& xy_in, const py::array& part_points_in,
                      const py::array& object_parts_in, const py::array& classes_in,
                      const py::array& sizes_in, const py::object& num_threads) {
  const auto xy = checked<double>(xy_in, xy_in.ndim() == 2 && xy_in.shape(1) == 2, "xy",
                                  "an (N, 2) float64 array");
  const auto part_points = checked<std::int64_t>(part_points_in, part_points_in.ndim() == 1,
                                                 "part_points", "a 1-d int64 array");
  const auto object_parts = checked<std::int64_t>(object_parts_in, object_parts_in.ndim() == 1,
                                                  "object_parts", "a 1-d int64 array");
  const py::ssize_t n = object_parts.shape(0);
  const std::string per_object = "a (" + std::to_string(n) + ",) int64 array";
  const auto classes =
      checked<std::int64_t>(classes_in, classes_in.ndim() == 1 && classes_in.shape(0) == n,
                            "classes", per_object.c_str());
  const std::string per_size = "a (" + std::to_string(n) + ", 2) float64 array";
  const auto sizes = checked<double>(
      sizes_in, sizes_in.ndim() == 2 && sizes_in.shape(0) == n && sizes_in.shape(1) == 2, "sizes",
      per_size.c_str());
  const int threads = bind::resolve_threads(num_threads);
  py::array_t<std::int64_t> offsets(n + 1);
  const index_t total =
      yolo::label_line_offsets(part_points.data(), part_points.shape(0), xy.shape(0),
                               object_parts.data(), classes.data(), n, offsets.mutable_data());
  py::array_t<std::uint8_t> text(total);
  py::array_t<bool> inside(n);
  const double* p_xy = xy.data();
  const std::int64_t* p_part = part_points.data();
  const std::int64_t* p_obj = object_parts.data();
  const std::int64_t* p_cls = classes.data();
  const double* p_sizes = sizes.data();
  const std::int64_t* p_off = offsets.data();
  char* p_text = reinterpret_cast<char*>(text.mutable_data());
  auto* p_inside = reinterpret_cast<std::uint8_t*>(inside.mutable_data());
  {
    // Safe without the GIL: the kernel reads and writes only these buffers, kept alive here.
    py::gil_scoped_release release;
    yolo::write_label_lines(p_xy, p_part, p_obj, p_cls, p_sizes, n, p_off, p_text, p_inside,
                            threads);
  }
  return py::make_tuple(std::move(text), std::move(offsets), std::move(inside));
}

}  // namespace

void bind_yolo(py::module_& m) {
  m.def("yolo_label_lines", &label_lines, py::arg("xy"), py::arg("part_points"),
        py::arg("object_parts"), py::arg("classes"), py::arg("sizes"), py::kw_only(),
        py::arg("num_threads") = py::none(),
        "YOLO label lines of objects (parts joined as ultralytics does): (text, offsets, "
        "inside)");
}
