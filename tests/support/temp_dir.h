#pragma once
// A temporary folder for one test, removed with everything in it when the object goes away.
#include <filesystem>
#include <string>
#include <unistd.h>

namespace opstudio::testing {

class TempDir {
public:
    explicit TempDir(const std::string& prefix = "opstudio_test") {
        static int counter = 0;
        m_path = std::filesystem::temp_directory_path() /
                 (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::create_directories(m_path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::filesystem::path operator/(const std::string& name) const { return m_path / name; }
    const std::filesystem::path& path() const { return m_path; }

private:
    std::filesystem::path m_path;
};

} // namespace opstudio::testing
