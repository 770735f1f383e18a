// Bindings for whole-file COCO conversion (coco_json.hpp).
#include <pybind11/pybind11.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bind_util.hpp"
#include "maskprep/coco_json.hpp"

namespace py = pybind11;
using namespace maskprep;

namespace {

// An annotation id's JSON text as the Python value json.loads would give for the common cases
// (an integer, a plain string); other ids are returned as their text.
py::object id_value(const std::string& text) {
  if (text.empty()) return py::none();
  if (text.front() == '"' && text.find('\\') == std::string::npos)
    return py::str(text.substr(1, text.size() - 2));
  const size_t digits = text.find_first_not_of("-0123456789");
  if (digits == std::string::npos) return py::int_(py::str(text));
  return py::str(text);
}

py::tuple convert_to_rle(const py::buffer& data, bool recompute, bool keep_going,
                         const py::object& progress, const py::object& num_threads) {
  coco_json::ConvertOptions options;
  options.recompute = recompute;
  options.num_threads = bind::resolve_threads(num_threads);
  if (!progress.is_none()) {
    options.progress = [progress](index_t done, index_t total) {
      py::gil_scoped_acquire gil;  // called between batches, on this thread only
      progress(done, total);
    };
  }
  const py::buffer_info buf = data.request();
  if (buf.ndim != 1 || buf.itemsize != 1)
    throw py::type_error("data must be bytes (the file's contents)");
  // The scanner re-reads the text it has validated: a mutable buffer (bytearray, numpy) that
  // another thread could change meanwhile is copied first; bytes are immutable.
  std::string copy;
  const char* text = static_cast<const char*>(buf.ptr);
  if (!PyBytes_Check(data.ptr())) {
    copy.assign(text, static_cast<size_t>(buf.size));
    text = copy.data();
  }
  auto result = std::make_unique<coco_json::ConvertResult>();
  {
    py::gil_scoped_release release;  // `data` (immutable) or `copy` outlives the call
    *result = coco_json::convert_to_rle(text, buf.size, options, keep_going);
  }
  py::dict report;
  report["images"] = result->images;
  report["annotations"] = result->annotations;
  report["converted"] = result->converted;
  report["polygons"] = result->polygons;
  report["rles"] = result->rles;
  py::list errors;
  for (const auto& e : result->errors) errors.append(py::make_tuple(id_value(e.id), e.message));
  // The output as a uint8 array owning the string: no copy of what may be hundreds of MB.
  auto* owner = new std::string(std::move(result->output));
  py::capsule free_when_done(owner, [](void* p) { delete static_cast<std::string*>(p); });
  py::array_t<std::uint8_t> output(static_cast<py::ssize_t>(owner->size()),
                                   reinterpret_cast<const std::uint8_t*>(owner->data()),
                                   free_when_done);
  return py::make_tuple(output, report, errors);
}

void check_json(const py::buffer& data) {
  const py::buffer_info buf = data.request();
  if (buf.ndim != 1 || buf.itemsize != 1)
    throw py::type_error("data must be bytes (the file's contents)");
  py::gil_scoped_release release;  // `data` stays referenced by the caller for the call
  coco_json::check_json(static_cast<const char*>(buf.ptr), buf.size);
}

template <typename T>
py::array_t<T> to_array(const std::vector<T>& v) {
  py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
  if (!v.empty()) std::memcpy(out.mutable_data(), v.data(), v.size() * sizeof(T));
  return out;
}

// read_columns: a dict of numpy columns (and the file names), or the reason (a str) when the
// text is not in the regular form.
py::object columns(const py::bytes& data) {
  const char* text = PyBytes_AS_STRING(data.ptr());
  const auto len = static_cast<index_t>(PyBytes_GET_SIZE(data.ptr()));
  auto c = std::make_unique<coco_json::Columns>();
  {
    py::gil_scoped_release release;  // bytes are immutable and the caller holds them
    *c = coco_json::read_columns(text, len);
  }
  if (!c->irregular.empty()) return py::str(c->irregular);
  py::list names(static_cast<py::ssize_t>(c->file_name.size()));
  for (size_t k = 0; k < c->file_name.size(); ++k)
    names[static_cast<py::ssize_t>(k)] = py::str(c->file_name[k]);
  py::dict out;
  out["image_id"] = to_array(c->image_id);
  out["height"] = to_array(c->height);
  out["width"] = to_array(c->width);
  out["file_name"] = names;
  out["ann_id"] = to_array(c->ann_id);
  out["category_id"] = to_array(c->category_id);
  out["image"] = to_array(c->image);
  out["parts"] = to_array(c->parts);
  out["part_points"] = to_array(c->part_points);
  out["iscrowd"] = to_array(c->iscrowd).attr("astype")("bool");
  py::array_t<double> xy = to_array(c->xy);
  out["xy"] = xy.attr("reshape")(-1, 2);
  out["rle_begin"] = to_array(c->rle_begin);
  out["rle_end"] = to_array(c->rle_end);
  out["categories"] = py::make_tuple(c->categories_begin, c->categories_end);
  return std::move(out);
}

}  // namespace

void bind_coco(py::module_& m) {
  py::register_exception<coco_json::SyntaxError>(m, "JsonSyntaxError", PyExc_ValueError);
  py::register_exception<coco_json::NotAnObject>(m, "JsonNotObjectError", PyExc_ValueError);
  m.def("json_check", &check_json, py::arg("data"));
  m.def("coco_convert_to_rle", &convert_to_rle, py::arg("data"), py::arg("recompute"),
        py::arg("keep_going"), py::arg("progress"), py::kw_only(),
        py::arg("num_threads") = py::none());
  m.def("coco_columns", &columns, py::arg("data"),
        "The columns of an instances file in the regular form (coco_json.hpp), or why not");
}
