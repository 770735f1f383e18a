// Bindings for the YOLO label lines (yolo.hpp): check the arrays, allocate the text and run the
// kernel without the GIL. maskprep.formats.yolo builds the arrays and slices the text per file.
#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

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

// The arrays both kernels read, checked, with each object's first part and point (given, or
// filled in by label_line_offsets) and the line offsets.
struct Objects {
  bind::carray<double> xy;
  bind::carray<std::int64_t> part_points, object_parts;
  py::ssize_t n;
  std::vector<std::int64_t> part_start, point_start, offsets;
  index_t total;

  Objects(const py::array& xy_in, const py::array& part_points_in, const py::array& object_parts_in,
          const py::object& part_start_in, const py::object& point_start_in,
          const std::int64_t* classes)
      : xy(checked<double>(xy_in, xy_in.ndim() == 2 && xy_in.shape(1) == 2, "xy",
                           "an (N, 2) float64 array")),
        part_points(checked<std::int64_t>(part_points_in, part_points_in.ndim() == 1, "part_points",
                                          "a 1-d int64 array")),
        object_parts(checked<std::int64_t>(object_parts_in, object_parts_in.ndim() == 1,
                                           "object_parts", "a 1-d int64 array")),
        n(object_parts.shape(0)) {
    const bool given = !part_start_in.is_none();
    if (given != !point_start_in.is_none())
      throw py::value_error("part_start and point_start must be given together");
    const auto size = static_cast<std::size_t>(n);
    part_start.resize(size);
    point_start.resize(size);
    offsets.resize(size + 1);
    if (given) {
      const std::string per_object = "a (" + std::to_string(n) + ",) int64 array";
      for (auto [in, name, out] : {std::make_tuple(&part_start_in, "part_start", &part_start),
                                   std::make_tuple(&point_start_in, "point_start", &point_start)}) {
        if (!py::isinstance<py::array>(*in))
          throw py::type_error(std::string(name) + " must be " + per_object + ", got " +
                               py::str(py::type::of(*in).attr("__name__")).cast<std::string>());
        const auto arr = py::reinterpret_borrow<py::array>(*in);
        const auto a = checked<std::int64_t>(arr, arr.ndim() == 1 && arr.shape(0) == n, name,
                                             per_object.c_str());
        std::copy(a.data(), a.data() + n, out->begin());
      }
    }
    std::vector<std::int64_t> zeros;
    if (classes == nullptr) zeros.assign(size, 0), classes = zeros.data();
    total = yolo::label_line_offsets(part_points.data(), part_points.shape(0), xy.shape(0),
                                     object_parts.data(), classes, n, part_start.data(),
                                     point_start.data(), given, offsets.data());
  }
};

py::tuple label_lines(const py::array& xy_in, const py::array& part_points_in,
                      const py::array& object_parts_in, const py::array& classes_in,
                      const py::array& sizes_in, const py::object& part_start_in,
                      const py::object& point_start_in, const py::object& num_threads) {
  const py::ssize_t n = object_parts_in.ndim() == 1 ? object_parts_in.shape(0) : 0;
  const std::string per_object = "a (" + std::to_string(n) + ",) int64 array";
  const auto classes =
      checked<std::int64_t>(classes_in, classes_in.ndim() == 1 && classes_in.shape(0) == n,
                            "classes", per_object.c_str());
  const std::string per_size = "a (" + std::to_string(n) + ", 2) float64 array";
  const auto sizes = checked<double>(
      sizes_in, sizes_in.ndim() == 2 && sizes_in.shape(0) == n && sizes_in.shape(1) == 2, "sizes",
      per_size.c_str());
  const int threads = bind::resolve_threads(num_threads);
  Objects o(xy_in, part_points_in, object_parts_in, part_start_in, point_start_in, classes.data());
  py::array_t<std::int64_t> offsets(n + 1);
  std::copy(o.offsets.begin(), o.offsets.end(), offsets.mutable_data());
  py::array_t<std::uint8_t> text(o.total);
  py::array_t<bool> inside(n);
  char* p_text = reinterpret_cast<char*>(text.mutable_data());
  auto* p_inside = reinterpret_cast<std::uint8_t*>(inside.mutable_data());
  const std::int64_t* p_cls = classes.data();
  const double* p_sizes = sizes.data();
  {
    // Safe without the GIL: the kernel reads and writes only these buffers, kept alive here.
    py::gil_scoped_release release;
    yolo::write_label_lines(o.xy.data(), o.part_points.data(), o.object_parts.data(),
                            o.part_start.data(), o.point_start.data(), p_cls, p_sizes, n,
                            o.offsets.data(), p_text, p_inside, threads);
  }
  return py::make_tuple(std::move(text), std::move(offsets), std::move(inside));
}

py::array_t<std::uint8_t> overlapping_parts(const py::array& xy_in, const py::array& part_points_in,
                                            const py::array& object_parts_in,
                                            const py::array& sizes_in,
                                            const py::object& part_start_in,
                                            const py::object& point_start_in,
                                            const py::object& num_threads) {
  Objects o(xy_in, part_points_in, object_parts_in, part_start_in, point_start_in, nullptr);
  const std::string per_size = "a (" + std::to_string(o.n) + ", 2) int64 array";
  const auto sizes = checked<std::int64_t>(
      sizes_in, sizes_in.ndim() == 2 && sizes_in.shape(0) == o.n && sizes_in.shape(1) == 2, "sizes",
      per_size.c_str());
  const int threads = bind::resolve_threads(num_threads);
  py::array_t<std::uint8_t> out(o.n);
  std::uint8_t* p_out = out.mutable_data();
  const std::int64_t* p_sizes = sizes.data();
  {
    py::gil_scoped_release release;  // the kernel touches only these buffers
    yolo::overlapping_parts(o.xy.data(), o.part_points.data(), o.object_parts.data(),
                            o.part_start.data(), o.point_start.data(), p_sizes, o.n, p_out,
                            threads);
  }
  return out;
}

}  // namespace

void bind_yolo(py::module_& m) {
  m.def("yolo_label_lines", &label_lines, py::arg("xy"), py::arg("part_points"),
        py::arg("object_parts"), py::arg("classes"), py::arg("sizes"),
        py::arg("part_start") = py::none(), py::arg("point_start") = py::none(), py::kw_only(),
        py::arg("num_threads") = py::none(),
        "YOLO label lines of objects (parts joined as ultralytics does): (text, offsets, "
        "inside)");
  m.def("yolo_overlapping_parts", &overlapping_parts, py::arg("xy"), py::arg("part_points"),
        py::arg("object_parts"), py::arg("sizes"), py::arg("part_start") = py::none(),
        py::arg("point_start") = py::none(), py::kw_only(), py::arg("num_threads") = py::none(),
        "Per object: 1 when its parts overlap, 0 when not, 2 when it cannot be rasterized");
}
