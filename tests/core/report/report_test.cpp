#include "support/graph_builder.h"

#include "opstudio/compare/compare.h"
#include "opstudio/profile/profiler.h"
#include "opstudio/report/report.h"
#include "opstudio/report/svg_chart.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

using namespace opstudio;
using namespace opstudio::testing;
using ir::DType;

namespace {

std::shared_ptr<ir::Model> smallNet(bool fused = false) {
    const auto pads = attrInts("pads", {1, 1, 1, 1});
    GraphBuilder b;
    b.input("x", DType::F32, {1, 3, 8, 8})
        .initializer("w1", randomTensor(DType::F32, {4, 3, 3, 3}, 1))
        .initializer("w2", randomTensor(DType::F32, {4, 4, 3, 3}, 2))
        .node("Conv", {"x", "w1"}, {"c1"}, {pads}, {}, "conv<1>") // a name that needs escaping
        .node("Relu", {"c1"}, {"r1"})
        .node("Conv", {"r1", "w2"}, {"c2"}, {pads}, {}, "conv_2");
    if (!fused)
        b.node("Sigmoid", {"c2"}, {"s"}).node("Mul", {"s", "c2"}, {"y"});
    else
        b.node("Relu", {"c2"}, {"y"});
    return b.output("y").build();
}

profile::Profile profileOf(std::shared_ptr<ir::Model> model, const std::string& name) {
    auto session = rt::Session::create(model);
    if (!session.ok()) throw session.error();
    profile::ProfileOptions po;
    po.runs = 3;
    po.warmup = 1;
    po.recordTrace = false;
    auto p = profile::Profiler(*session.value(), po).run(rt::randomFeeds(*session.value(), 1));
    if (!p.ok()) throw p.error();
    p->model = name;
    return p.value();
}

/// Checks that every element opened is closed in order (void elements and "/>" excepted;
/// <style> content skipped). Returns "" when balanced, else what went wrong.
std::string unbalancedTags(const std::string& html) {
    static const std::set<std::string> kVoid{"meta", "br", "hr", "img", "link", "input"};
    std::vector<std::string> stack;
    size_t i = 0;
    while ((i = html.find('<', i)) != std::string::npos) {
        if (html.compare(i, 2, "<!") == 0) {
            i = html.find('>', i);
            continue;
        }
        const size_t end = html.find('>', i);
        if (end == std::string::npos) return "unterminated tag";
        std::string tag = html.substr(i + 1, end - i - 1);
        const bool closing = !tag.empty() && tag[0] == '/';
        const bool selfClosing = !tag.empty() && tag.back() == '/';
        if (closing) tag = tag.substr(1);
        const std::string name = tag.substr(0, tag.find_first_of(" /"));
        if (closing) {
            if (stack.empty() || stack.back() != name)
                return "</" + name + "> closes <" + (stack.empty() ? "nothing" : stack.back()) + ">";
            stack.pop_back();
        } else if (!selfClosing && !kVoid.count(name)) {
            stack.push_back(name);
            if (name == "style") {
                const size_t close = html.find("</style>", end);
                if (close == std::string::npos) return "unclosed style";
                i = close;
                continue;
            }
        }
        i = end + 1;
    }
    return stack.empty() ? "" : "unclosed <" + stack.back() + ">";
}

report::ReportData fullReport() {
    auto original = smallNet();
    auto optimized = smallNet(true);
    report::ReportData d;
    d.model = report::summarize(*original, "small_net.onnx");
    d.profile = profileOf(original, "small_net.onnx");
    d.optimizedModel = report::summarize(*optimized, "small_net.opt.onnx");
    d.optimizedProfile = profileOf(optimized, "small_net.opt.onnx");
    passes::PassReport pr;
    pr.pass = "fuse-swish";
    pr.applied = 1;
    pr.nodesBefore = 5;
    pr.nodesAfter = 4;
    pr.skipped.push_back({"conv<1>", "Conv", "output used twice & more"});
    d.passes.push_back(pr);
    compare::CompareOptions co;
    co.runs = 1;
    co.warmup = 0;
    auto c = compare::compareModels(original, optimized, {}, co);
    if (!c.ok()) throw c.error();
    d.comparison = c.value();
    return d;
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t i = text.find(what); i != std::string::npos; i = text.find(what, i + 1))
        ++n;
    return n;
}

} // namespace

TEST(HtmlReport, ProfileOnlyIsWellFormedAndSelfContained) {
    auto m = smallNet();
    report::ReportData d;
    d.model = report::summarize(*m, "small_net.onnx");
    d.profile = profileOf(m, "small_net.onnx");
    const std::string html = report::toHtml(d);
    EXPECT_EQ(unbalancedTags(html), "");
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(html.find("small_net.onnx"), std::string::npos);
    EXPECT_NE(html.find("<svg"), std::string::npos);
    // Top nodes, names escaped.
    EXPECT_NE(html.find("conv&lt;1&gt;"), std::string::npos);
    EXPECT_EQ(html.find("conv<1>"), std::string::npos);
    EXPECT_NE(html.find("conv_2"), std::string::npos);
    // Nothing loaded from elsewhere, no scripts.
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));
    EXPECT_EQ(html.find("https://"), std::string::npos);
    EXPECT_EQ(html.find("Before and after"), std::string::npos);
}

TEST(HtmlReport, FullReportHasEverySection) {
    const auto d = fullReport();
    const std::string html = report::toHtml(d);
    EXPECT_EQ(unbalancedTags(html), "");
    EXPECT_NE(html.find("Before and after optimization"), std::string::npos);
    EXPECT_NE(html.find("speedup"), std::string::npos);
    EXPECT_NE(html.find("fuse-swish"), std::string::npos);
    EXPECT_NE(html.find("output used twice &amp; more"), std::string::npos);
    EXPECT_NE(html.find("Accuracy"), std::string::npos);
    // Swish vs Relu: the output keeps its name, so the divergence is placed at A's producer.
    EXPECT_NE(html.find("First divergence"), std::string::npos);
    EXPECT_NE(html.find("<code>Mul_y</code>"), std::string::npos);
    EXPECT_GE(count(html, "<svg"), 3u); // two profiles + before/after
    EXPECT_EQ(count(html, "<svg"), count(html, "</svg>"));
}

TEST(MarkdownReport, HasTheTables) {
    const auto d = fullReport();
    const std::string md = report::toMarkdown(d);
    EXPECT_EQ(md.rfind("# OpStudio report: small_net.onnx", 0), 0u);
    EXPECT_NE(md.find("| op type | nodes | ms |"), std::string::npos);
    EXPECT_NE(md.find("| # | node | op | ms |"), std::string::npos);
    EXPECT_NE(md.find("conv<1>"), std::string::npos);
    EXPECT_NE(md.find("| pass | applied |"), std::string::npos);
    EXPECT_NE(md.find("| output | max abs |"), std::string::npos);
    EXPECT_NE(md.find("speedup **"), std::string::npos);
    // Every table row has as many cells as its header.
    std::istringstream lines(md);
    std::string line;
    size_t columns = 0;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] != '|') {
            columns = 0;
            continue;
        }
        const size_t cells = count(line, " |");
        if (columns == 0) columns = cells;
        EXPECT_EQ(cells, columns) << line;
    }
}

TEST(JsonReport, ParsesAndHasTheSections) {
    const auto d = fullReport();
    const auto j = nlohmann::json::parse(report::toJson(d).dump());
    EXPECT_EQ(j["format"], "opstudio-report");
    EXPECT_EQ(j["model"]["name"], "small_net.onnx");
    EXPECT_EQ(j["model"]["nodes"], 5);
    EXPECT_FALSE(j["profile"]["op_types"].empty());
    EXPECT_EQ(j["profile"]["top_nodes"].size(), 5u);
    EXPECT_TRUE(j["optimized"]["speedup"].is_number());
    EXPECT_EQ(j["optimized"]["model"]["nodes"], 4);
    EXPECT_EQ(j["passes"][0]["pass"], "fuse-swish");
    EXPECT_EQ(j["passes"][0]["skipped"][0]["reason"], "output used twice & more");
    EXPECT_TRUE(j["comparison"].contains("outputs"));

    report::ReportData minimal;
    auto m = smallNet();
    minimal.model = report::summarize(*m);
    minimal.profile = profileOf(m, "m");
    const auto j2 = report::toJson(minimal);
    EXPECT_TRUE(j2["optimized"].is_null());
    EXPECT_TRUE(j2["comparison"].is_null());
}

TEST(ReportData, TopNodesAndOpTypeDeltas) {
    profile::Profile before, after;
    for (double ms : {1.0, 5.0, 3.0}) {
        profile::NodeProfile n;
        n.name = "n" + std::to_string(static_cast<int>(ms));
        n.selfMedianMs = ms;
        before.nodes.push_back(n);
    }
    const auto top = report::topNodeIndices(before, 2);
    ASSERT_EQ(top.size(), 2u);
    EXPECT_EQ(top[0], 1u);
    EXPECT_EQ(top[1], 2u);
    const auto type = [](const std::string& name, double ms) {
        profile::OpTypeProfile t;
        t.opType = name;
        t.count = 2;
        t.totalMs = ms;
        return t;
    };
    before.opTypes = {type("Conv", 4.0), type("Relu", 1.0)};
    after.opTypes = {type("FusedConv", 3.0)};
    const auto deltas = report::opTypeDeltas(before, after);
    ASSERT_EQ(deltas.size(), 3u);
    EXPECT_EQ(deltas[0].opType, "Conv");
    EXPECT_EQ(deltas[0].afterMs, 0);
    EXPECT_EQ(deltas[2].opType, "FusedConv");
    EXPECT_EQ(deltas[2].afterMs, 3.0);
}

TEST(SvgChart, BarsScaleToTheLargestValue) {
    report::BarChart c;
    c.title = "t<";
    c.series = {"before", "after"};
    c.rows = {{"Conv", {2.0, 1.0}}, {"Relu", {0.5, 0.0}}};
    const std::string svg = report::svgBarChart(c);
    EXPECT_EQ(unbalancedTags(svg), "");
    EXPECT_NE(svg.find("<title>t&lt;</title>"), std::string::npos);
    EXPECT_EQ(count(svg, "<rect"), 2u + 4u); // legend + bars
}

TEST(ReportFile, WritesAtomically) {
    const std::string path = ::testing::TempDir() + "/report_test.html";
    ASSERT_TRUE(report::writeFileAtomically(path, "<p>one</p>").ok());
    ASSERT_TRUE(report::writeFileAtomically(path, "<p>two</p>").ok());
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    EXPECT_EQ(s.str(), "<p>two</p>");
    for (const auto& e : std::filesystem::directory_iterator(::testing::TempDir()))
        EXPECT_EQ(e.path().filename().string().find("report_test.html.tmp"), std::string::npos);
    EXPECT_FALSE(report::writeFileAtomically("/nonexistent-dir/x.html", "x").ok());
}
