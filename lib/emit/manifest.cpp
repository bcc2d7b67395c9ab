// A JSON summary of a compiled program (--emit manifest), for build systems,
// CI dashboards and host code that needs the data layout without parsing the
// image: the named values with their offsets, the sizes, and which stencils
// the program is made of.
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "emit/emit.hpp"

namespace copapy {

namespace {

nlohmann::ordered_json initial_value(DType dtype, uint32_t bits) {
    switch (dtype) {
        case DType::Float: {
            float f;
            std::memcpy(&f, &bits, 4);
            if (f != f) return "nan";
            if (f == std::numeric_limits<float>::infinity()) return "inf";
            if (f == -std::numeric_limits<float>::infinity()) return "-inf";
            return f;
        }
        case DType::Bool: return bits != 0;
        case DType::Int: break;
    }
    return static_cast<int32_t>(bits);
}

nlohmann::ordered_json bound(Kind kind, double f, int64_t i) {
    if (kind == Kind::I) return i;
    if (f == std::numeric_limits<double>::infinity()) return "inf";
    if (f == -std::numeric_limits<double>::infinity()) return "-inf";
    return static_cast<float>(f);  // a binary32 value held exactly
}

// A range's bounds as the manifest writes them: [lo, hi], null if only NaN
// is possible (whether NaN is, the caller writes where it can be).
nlohmann::ordered_json bounds(const Range& r) {
    if (r.kind == Kind::I) return {r.ilo, r.ihi};
    return r.empty ? nlohmann::ordered_json(nullptr)
                   : nlohmann::ordered_json{bound(Kind::F, r.flo, 0), bound(Kind::F, r.fhi, 0)};
}

// "range" and, for floats, "nan": what the analysis proved for a value.
void put_proven(nlohmann::ordered_json& entry, const Range& r) {
    entry["range"] = bounds(r);
    if (r.kind == Kind::F) entry["nan"] = r.nan;
}

// Per symbol name: the IR nodes behind it (an input's or state's value at
// the start of a run; an output's value after it).
struct SymbolNodes {
    uint32_t input = kNone, output = kNone;
    const IrInput* in = nullptr;
};

}  // namespace

std::string format_manifest(const EmitInput& in, std::span<const uint8_t> image_bytes) {
    using Json = nlohmann::ordered_json;
    const LinkedImage& img = in.image;
    // The IR is released when only images are written; the manifest then
    // has no locations or ranges (the driver keeps it whenever one is asked for).
    std::map<std::string_view, SymbolNodes> nodes;
    for (const IrInput& i : in.ir.inputs) {
        SymbolNodes& n = nodes[in.ir.names[i.name]];
        n.input = n.output = i.node;
        n.in = &i;
    }
    for (const IrUpdate& u : in.ir.updates) nodes[in.ir.names[in.ir.inputs[u.input].name]].output = u.node;
    for (const IrOutput& o : in.ir.outputs) nodes[in.ir.names[o.name]].output = o.node;
    Json inputs = Json::array(), outputs = Json::array();
    for (const ImageSymbol& s : img.symbols) {
        Json entry = {{"name", s.name}, {"dtype", dtype_name(s.dtype)}, {"offset", s.offset}};
        if (s.flags & CP_SYM_STATE) entry["state"] = true;  // in both lists: written and read
        const auto found = nodes.find(s.name);
        const SymbolNodes* n = found == nodes.end() ? nullptr : &found->second;
        if (s.flags & CP_SYM_INPUT) {
            Json with_value = entry;
            with_value["initial"] = initial_value(s.dtype, in.program.data[s.offset / 4]);
            if (n && n->input != kNone) {
                if (std::string loc = source_location(in.ir, n->input); !loc.empty()) with_value["loc"] = loc;
                if (n->in && n->in->declared) with_value["declared_range"] = bounds(declared_range(*n->in));
                if (in.ranges) put_proven(with_value, in.ranges->ranges[n->input]);
            }
            inputs.push_back(with_value);
        }
        if (s.flags & CP_SYM_OUTPUT) {
            if (n && n->output != kNone) {
                if (std::string loc = source_location(in.ir, n->output); !loc.empty()) entry["loc"] = loc;
                if (in.ranges) put_proven(entry, in.ranges->ranges[n->output]);
            }
            outputs.push_back(entry);
        }
    }
    // Bound inputs and outputs: no slot, the device address instead.
    Json bound_list = Json::array();
    for (const IrBinding& b : in.ir.bindings) {
        Json entry = {{"name", in.ir.names[b.name]}, {"direction", b.output ? "output" : "input"},
                      {"dtype", dtype_name(b.dtype)}, {"address", b.address}, {"width", b.width}};
        if (std::string loc = source_location(in.ir, b.output ? in.ir.nodes[b.node].args[0] : b.node); !loc.empty())
            entry["loc"] = loc;
        bound_list.push_back(entry);
    }
    std::map<std::string_view, size_t> usage;  // sorted: stable output
    for (const Step& st : in.program.steps) ++usage[in.program.stencil(st)];
    Json stencils = Json::object();
    for (const auto& [name, count] : usage) stencils[std::string(name)] = count;
    Json library = Json::array();
    for (const LinkedImage::Placement& p : img.aux)
        library.push_back({{"section", p.name},
                           {"region", p.region == CP_REGION_DATA ? "data" : "code"},
                           {"offset", p.offset},
                           {"size", p.size}});

    Json j = {
        {"format", "copapy-manifest"},
        {"version", 1},
        {"source", in.source},
        {"target", in.target.name},
        {"image_size", image_bytes.size()},
        {"code_size", img.code.size()},
        {"code_align", img.code_align},
        {"data_size", img.data.size()},
        {"data_align", img.data_align},
        {"entry", img.entry},
        {"thumb_entry", (img.flags & CP_FLAG_THUMB_ENTRY) != 0},
        {"fixed", in.fixed ? Json{{"code_addr", in.fixed->code},
                                  {"data_addr", in.fixed->data},
                                  {"patches_applied", in.patches.size()}}
                           : Json(nullptr)},
        {"patches", img.patches.size()},
        {"resolved_relocations", img.resolved},
        {"inputs", inputs},
        {"outputs", outputs},
        {"bound", bound_list},
        {"steps", in.program.steps.size()},
        {"stencil_bytes", img.stencil_bytes},
        {"constants", in.program.consts.size()},
        {"stencils", stencils},
        {"library_sections", library},
    };
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace copapy
