// COCO RLE objects on the Python side (see rle_objects.hpp).
#include "rle_objects.hpp"

#include "bind_util.hpp"

namespace maskprep::bind {

// ---- errors naming one object of a batch ---------------------------------------------------

namespace {

// Created once with the GIL held and never freed (like thread_scope_var in bind_util.hpp).
PyObject* indexed_error(bool type_error) {
  static PyObject* const value = PyErr_NewExceptionWithDoc(
      "maskprep._core.IndexedValueError",
      "A ValueError about one object of a batch: .index is its position, .message the text "
      "after its name.",
      PyExc_ValueError, nullptr);
  static PyObject* const type = PyErr_NewExceptionWithDoc(
      "maskprep._core.IndexedTypeError",
      "A TypeError about one object of a batch: .index is its position, .message the text "
      "after its name.",
      PyExc_TypeError, nullptr);
  PyObject* const e = type_error ? type : value;
  if (e == nullptr) throw py::error_already_set();
  return e;
}

}  // namespace

void raise_indexed(bool type_error, const std::string& arg, index_t index,
                   const std::string& message) {
  PyObject* const cls = indexed_error(type_error);
  py::object e =
      py::reinterpret_borrow<py::object>(cls)(arg + "[" + std::to_string(index) + "]" + message);
  e.attr("index") = index;
  e.attr("message") = message;
  PyErr_SetObject(cls, e.ptr());
  throw py::error_already_set();
}

void register_indexed_errors(py::module_& m) {
  m.attr("IndexedValueError") = py::reinterpret_borrow<py::object>(indexed_error(false));
  m.attr("IndexedTypeError") = py::reinterpret_borrow<py::object>(indexed_error(true));
  // A kernel's IndexedError that no binding named: "[i]..." (every binding names its batch).
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const IndexedError& e) {
      try {
        raise_indexed(false, "", e.index(), e.message());
      } catch (py::error_already_set& set) {
        set.restore();
      }
    }
  });
}

// ---- reading ---------------------------------------------------------------------------------

index_t read_index(py::handle v, const std::string& what) {
  if (PyBool_Check(v.ptr()) || PyFloat_Check(v.ptr()) || !PyIndex_Check(v.ptr()))
    throw py::type_error(what + " must be a non-negative integer, got " + type_name(v) + " " +
                         py::repr(v).cast<std::string>());
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(v.ptr()));
  if (!i) throw py::error_already_set();
  int overflow = 0;
  const long long x = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow != 0 || x < 0)
    throw py::value_error(what + " must be a non-negative integer, got " +
                          py::repr(v).cast<std::string>());
  return static_cast<index_t>(x);
}

size_t RleInputs::add() {
  h.push_back(0);
  w.push_back(0);
  counts.emplace_back();
  str.push_back(nullptr);
  str_len.push_back(0);
  return h.size() - 1;
}

namespace {

void read_counts_list(py::handle counts, rle::Counts& out) {
  py::object seq = py::reinterpret_steal<py::object>(
      PySequence_Fast(counts.ptr(), "counts must be a list of integers"));
  if (!seq) throw py::error_already_set();
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
  PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
  out.resize(static_cast<size_t>(n));
  for (Py_ssize_t j = 0; j < n; ++j) {
    PyObject* v = items[j];
    if (PyLong_CheckExact(v)) {  // fast path for the common case
      int overflow = 0;
      const long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
      if (overflow == 0 && x >= 0) {
        out[static_cast<size_t>(j)] = static_cast<rle::count_t>(x);
        continue;
      }
    }
    const std::string what = "['counts'][" + std::to_string(j) + "]";
    if (PyFloat_Check(v) && !PyIndex_Check(v))
      throw py::value_error(what + " must be a non-negative integer, got " +
                            py::repr(v).cast<std::string>());
    out[static_cast<size_t>(j)] = static_cast<rle::count_t>(read_index(v, what));
  }
}

// Interned dict keys: RLE batches are read in a tight loop, where building key strings or going
// through pybind11's generic accessors costs more than parsing the counts.
PyObject* key(const char* name) {
  PyObject* k = PyUnicode_InternFromString(name);
  if (!k) throw py::error_already_set();
  return k;  // intentionally immortal
}

index_t read_size_value(PyObject* v, const char* what) {
  if (PyLong_CheckExact(v)) {
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow == 0 && x >= 0) return static_cast<index_t>(x);
  }
  return read_index(v, what);
}

}  // namespace

void read_rle(py::handle obj, RleInputs& in, size_t i) {
  static PyObject* const kSize = key("size");
  static PyObject* const kCounts = key("counts");
  if (!PyDict_Check(obj.ptr()))
    throw py::type_error(" must be an RLE dict {'size': [h, w], 'counts': ...}, got " +
                         type_name(obj));
  PyObject* size = PyDict_GetItemWithError(obj.ptr(), kSize);      // borrowed
  PyObject* counts = PyDict_GetItemWithError(obj.ptr(), kCounts);  // borrowed
  if (PyErr_Occurred()) throw py::error_already_set();
  if (!size || !counts) throw py::value_error(" must have the keys 'size' and 'counts'");
  if (!(PyList_Check(size) || PyTuple_Check(size)) || PySequence_Fast_GET_SIZE(size) != 2)
    throw py::value_error("['size'] must be [height, width], got " +
                          py::repr(size).cast<std::string>());
  PyObject** hw = PySequence_Fast_ITEMS(size);
  in.h[i] = read_size_value(hw[0], "['size'][0]");
  in.w[i] = read_size_value(hw[1], "['size'][1]");
  if (PyBytes_Check(counts)) {
    in.str[i] = PyBytes_AS_STRING(counts);
    in.str_len[i] = static_cast<index_t>(PyBytes_GET_SIZE(counts));
    in.keep.push_back(py::reinterpret_borrow<py::object>(counts));
  } else if (PyUnicode_Check(counts)) {
    Py_ssize_t len = 0;
    const char* s = PyUnicode_AsUTF8AndSize(counts, &len);
    if (!s) throw py::error_already_set();
    in.str[i] = s;
    in.str_len[i] = static_cast<index_t>(len);
    in.keep.push_back(py::reinterpret_borrow<py::object>(counts));
  } else if (PyList_Check(counts) || PyTuple_Check(counts) || py::isinstance<py::array>(counts)) {
    read_counts_list(counts, in.counts[i]);
  } else {
    throw py::type_error(
        "['counts'] must be bytes or str (compressed) or a list of integers (uncompressed), "
        "got " +
        type_name(counts));
  }
}

RleInputs read_rles(py::handle objs, const char* arg) {
  RleInputs in;
  in.arg = arg;
  if (!PyList_Check(objs.ptr()) && !PyTuple_Check(objs.ptr()))
    throw py::type_error(std::string(arg) + " must be a list of RLE dicts, got " + type_name(objs));
  const size_t n = static_cast<size_t>(PySequence_Fast_GET_SIZE(objs.ptr()));
  PyObject** items = PySequence_Fast_ITEMS(objs.ptr());
  in.h.resize(n);
  in.w.resize(n);
  in.counts.resize(n);
  in.str.assign(n, nullptr);
  in.str_len.assign(n, 0);
  in.keep.reserve(n);
  for (size_t i = 0; i < n; ++i)
    for_object(in.arg, static_cast<index_t>(i), [&] { read_rle(items[i], in, i); });
  return in;
}

void parse_rles(RleInputs& in, int num_threads) {
  try {
    py::gil_scoped_release release;  // parses owned buffers; `keep` pins the Python strings
    rle::from_strings(in.str.data(), in.str_len.data(), in.h.data(), in.w.data(),
                      static_cast<index_t>(in.size()), in.counts.data(), num_threads);
  } catch (const IndexedError& e) {
    raise_indexed(false, in.arg, e.index(), e.message());
  }
}

RleInputs load_rles(py::handle objs, const char* arg, int num_threads) {
  RleInputs in = read_rles(objs, arg);
  parse_rles(in, num_threads);
  return in;
}

std::vector<const rle::Counts*> pointers(const std::vector<rle::Counts>& v) {
  std::vector<const rle::Counts*> p;
  p.reserve(v.size());
  for (const auto& c : v) p.push_back(&c);
  return p;
}

std::pair<index_t, index_t> common_size(const RleInputs& in) {
  for (size_t i = 1; i < in.size(); ++i) {
    if (in.h[i] != in.h[0] || in.w[i] != in.w[0])
      throw py::value_error(in.arg + "[" + std::to_string(i) + "] has size [" +
                            std::to_string(in.h[i]) + ", " + std::to_string(in.w[i]) + "] but " +
                            in.arg + "[0] has size [" + std::to_string(in.h[0]) + ", " +
                            std::to_string(in.w[0]) + "]: all must match");
  }
  return {in.h.empty() ? 0 : in.h[0], in.w.empty() ? 0 : in.w[0]};
}

// ---- building --------------------------------------------------------------------------------

py::dict make_rle(index_t h, index_t w, py::object counts) {
  // Through the C API with interned keys: py::dict's d["size"] builds the key str per call,
  // which cost as much as the rest of the dict (batches make thousands).
  static PyObject* const size_key = PyUnicode_InternFromString("size");  // kept for the process
  static PyObject* const counts_key = PyUnicode_InternFromString("counts");
  if (size_key == nullptr || counts_key == nullptr) throw py::error_already_set();
  py::object hw[2] = {py::reinterpret_steal<py::object>(PyLong_FromLongLong(h)),
                      py::reinterpret_steal<py::object>(PyLong_FromLongLong(w))};
  auto size = py::reinterpret_steal<py::list>(PyList_New(2));
  auto d = py::reinterpret_steal<py::dict>(PyDict_New());
  if (!hw[0] || !hw[1] || !size || !d) throw py::error_already_set();
  PyList_SET_ITEM(size.ptr(), 0, hw[0].release().ptr());  // steals the references
  PyList_SET_ITEM(size.ptr(), 1, hw[1].release().ptr());
  // Left to reference counting, like the dict (CPython tracks a dict only once it holds a
  // tracked object): a list of two ints cannot be in a cycle, and batches make thousands of
  // these, each of which the cyclic collector would otherwise walk, and with them, now and then,
  // the caller's whole heap (a loaded COCO file is millions of objects). Only a cycle the caller
  // builds through this list later would then go uncollected.
  PyObject_GC_UnTrack(size.ptr());
  if (PyDict_SetItem(d.ptr(), size_key, size.ptr()) != 0 ||
      PyDict_SetItem(d.ptr(), counts_key, counts.ptr()) != 0)
    throw py::error_already_set();
  // Holding only untracked objects, the dict is untracked too, as the collector itself would
  // (a dict tracks itself again when a tracked object is stored in it).
  if (!PyObject_GC_IsTracked(counts.ptr())) PyObject_GC_UnTrack(d.ptr());
  return d;
}

py::object counts_object(const rle::Counts& c, bool compressed) {
  if (compressed) return py::bytes(rle::to_string(c));
  py::list l(c.size());
  for (size_t j = 0; j < c.size(); ++j) l[j] = py::int_(c[j]);
  return std::move(l);
}

py::list make_rles(const std::vector<rle::Counts>& counts, const std::vector<std::string>* strings,
                   index_t h, index_t w, bool compressed) {
  py::list out(counts.size());
  for (size_t i = 0; i < counts.size(); ++i) {
    py::object c = strings ? py::bytes((*strings)[i]) : counts_object(counts[i], compressed);
    out[i] = make_rle(h, w, c);
  }
  return out;
}

}  // namespace maskprep::bind
