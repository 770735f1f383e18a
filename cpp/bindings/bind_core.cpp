// Bindings for build information and the process-wide thread budget.
#include <pybind11/stl.h>

#include "bind_util.hpp"

namespace py = pybind11;
using namespace maskprep;

void bind_core(py::module_& m) {
  m.def(
      "build_info",
      [] {
        py::dict d;
        d["version"] = MASKPREP_VERSION;
        d["compiler"] = MASKPREP_COMPILER;
        d["openmp"] = has_openmp();
        d["simd"] = simd_level();
        d["cores"] = available_cores();
        d["pybind11"] = std::to_string(PYBIND11_VERSION_MAJOR) + "." +
                        std::to_string(PYBIND11_VERSION_MINOR) + "." +
                        std::to_string(PYBIND11_VERSION_PATCH);
        return d;
      },
      "Version, compiler, OpenMP on/off, run-time SIMD level and usable cores.");
  m.def("get_thread_budget", &thread_budget, "The process-wide default thread count.");
  m.def(
      "current_thread_budget", &bind::current_budget,
      "The count num_threads=None stands for in the calling context (threads() block or budget).");
  m.attr("thread_scope") = py::reinterpret_borrow<py::object>(bind::thread_scope_var());
  m.def("set_thread_budget", &set_thread_budget, py::arg("n"),
        "Set the process-wide default thread count (n >= 1).");
  m.def("available_cores", &available_cores, "Processors this process may run on.");
  m.def("resolve_threads", &bind::resolve_threads, py::arg("num_threads"),
        "Resolve a num_threads argument (None, -1 or n >= 1) to a positive count.");
}
