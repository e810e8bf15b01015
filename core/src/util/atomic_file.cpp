#include "opstudio/util/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <unistd.h>

namespace opstudio::util {

namespace fs = std::filesystem;

void syncParentDirectory(const std::string& path) {
    fs::path dir = fs::path(path).parent_path();
    if (dir.empty()) dir = ".";
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return; // best effort: some file systems do not allow opening directories
    (void)::fsync(fd);
    ::close(fd);
}

Status writeFileAtomically(const std::string& path, std::string_view bytes) {
    std::random_device rd;
    std::string tmp;
    int fd = -1;
    for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
        tmp = path + ".tmp-" + std::to_string(rd());
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) return Error("cannot write '" + path + "': " + std::strerror(errno));
    auto fail = [&](const std::string& why) -> Status {
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        return Error("cannot write '" + path + "': " + why);
    };
    const char* p = bytes.data();
    size_t n = bytes.size();
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return fail(errno == ENOSPC ? "disk full" : std::strerror(errno));
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
    if (::fsync(fd) != 0) return fail(std::strerror(errno));
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) return fail(std::strerror(errno));
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(std::strerror(errno));
    syncParentDirectory(path);
    return Status::success();
}

} // namespace opstudio::util
