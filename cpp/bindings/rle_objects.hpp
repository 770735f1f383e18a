// COCO RLE objects on the Python side, shared by the rle, polygon, paste and coco bindings:
// reading lists of RLE dicts ({'size': [h, w], 'counts': bytes | str | list}) into plain C++ data,
// building them back, and the index-carrying exceptions (maskprep._core.IndexedValueError and
// IndexedTypeError) that name one object of a batch.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <utility>
#include <vector>

#include "maskprep/common.hpp"
#include "maskprep/rle.hpp"

namespace maskprep::bind {

namespace py = pybind11;

// ---- errors naming one object of a batch ---------------------------------------------------

// Registers IndexedValueError (a ValueError) and IndexedTypeError (a TypeError) on m, and the
// translation of an uncaught maskprep::IndexedError to the former.
void register_indexed_errors(py::module_& m);

// Raises the Python exception for object `index` of the batch called `arg`:
// str(e) == arg + "[" + index + "]" + message, with e.index and e.message set.
[[noreturn]] void raise_indexed(bool type_error, const std::string& arg, index_t index,
                                const std::string& message);

// Runs f(); a py::type_error or py::value_error it throws (whose message continues the object's
// name, e.g. " must be an RLE dict ...") is raised as the indexed exception for arg[index].
template <typename F>
void for_object(const std::string& arg, index_t index, F&& f) {
  try {
    f();
  } catch (const py::type_error& e) {
    raise_indexed(true, arg, index, e.what());
  } catch (const py::value_error& e) {
    raise_indexed(false, arg, index, e.what());
  }
}

// ---- reading ---------------------------------------------------------------------------------

// A non-negative integer (int or numpy integer; not bool, not float); `what` names it.
index_t read_index(py::handle v, const std::string& what);

// RLEs read from Python. Compressed strings are parsed later, in parallel, without the GIL;
// `keep` holds a reference to every string so it outlives the GIL-free section.
struct RleInputs {
  std::string arg;
  std::vector<index_t> h, w;
  std::vector<rle::Counts> counts;
  std::vector<const char*> str;
  std::vector<index_t> str_len;
  std::vector<py::object> keep;
  size_t size() const { return h.size(); }
  // Appends one empty slot and returns its index.
  size_t add();
};

// Reads one RLE dict into slot i of in. Errors (py::type_error, py::value_error) continue the
// object's name: " must have the keys 'size' and 'counts'", "['counts'][3] must be ...".
void read_rle(py::handle obj, RleInputs& in, size_t i);

// Reads a list of RLE dicts (TypeError unless a list or tuple); errors name arg[i].
RleInputs read_rles(py::handle objs, const char* arg);

// Parses the compressed strings and checks every RLE sums to h*w (rle::from_strings), without
// the GIL; an error names in.arg[i].
void parse_rles(RleInputs& in, int num_threads);

// read_rles then parse_rles.
RleInputs load_rles(py::handle objs, const char* arg, int num_threads);

std::vector<const rle::Counts*> pointers(const std::vector<rle::Counts>& v);

// Every RLE of the batch must have one size (ValueError naming the first that differs); returns
// it, (0, 0) for none.
std::pair<index_t, index_t> common_size(const RleInputs& in);

// ---- building --------------------------------------------------------------------------------

py::dict make_rle(index_t h, index_t w, py::object counts);

// counts as bytes (compressed) or a list of ints.
py::object counts_object(const rle::Counts& c, bool compressed);

// One RLE dict of size h x w per counts[i]: counts from strings[i] when given (compressed),
// else counts_object(counts[i], compressed).
py::list make_rles(const std::vector<rle::Counts>& counts, const std::vector<std::string>* strings,
                   index_t h, index_t w, bool compressed);

}  // namespace maskprep::bind
