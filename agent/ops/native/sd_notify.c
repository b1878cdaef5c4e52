// sd_notify transport: Node has no AF_UNIX datagram sockets, and systemd's NotifyAccess=main only
// accepts messages whose sender is the service's main PID, so a helper process cannot send them.
// This addon sends one datagram from the agent's own process, to a path or an abstract ('@') socket.
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

// Node-API is a stable C ABI (js_native_api.h). Declaring the few calls used here means the build
// needs only a C compiler, not Node's headers (which the npm `node` package does not always ship).
typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status;
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);
#define NAPI_AUTO_LENGTH SIZE_MAX

napi_status napi_get_cb_info(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
                             napi_value *this_arg, void **data);
napi_status napi_get_value_string_utf8(napi_env env, napi_value value, char *buf, size_t bufsize,
                                       size_t *result);
napi_status napi_get_buffer_info(napi_env env, napi_value value, void **data, size_t *length);
napi_status napi_create_int32(napi_env env, int32_t value, napi_value *result);
napi_status napi_create_function(napi_env env, const char *utf8name, size_t length, napi_callback cb,
                                 void *data, napi_value *result);
napi_status napi_set_named_property(napi_env env, napi_value object, const char *utf8name, napi_value value);
napi_status napi_throw_type_error(napi_env env, const char *code, const char *msg);

// send(socketPath: string, message: Buffer): number — 0 when sent, else -errno.
static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_value result;
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  size_t path_len = 0;
  void *data = NULL;
  size_t data_len = 0;
  struct sockaddr_un addr;
  socklen_t addr_len;
  int fd;
  int rc = 0;

  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc != 2 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &path_len) != 0 ||
      napi_get_buffer_info(env, argv[1], &data, &data_len) != 0) {
    napi_throw_type_error(env, NULL, "send(socketPath: string, message: Buffer)");
    return NULL;
  }
  if (path_len == 0 || path_len >= sizeof(addr.sun_path)) {
    napi_create_int32(env, -ENAMETOOLONG, &result);
    return result;
  }
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, path_len);
  if (path[0] == '@') {
    // Abstract namespace: the name is exactly the bytes after the leading NUL, no terminator.
    addr.sun_path[0] = '\0';
    addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);
  } else {
    addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len + 1);
  }

  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    rc = -errno;
  } else {
    // MSG_DONTWAIT: a full receiver queue must never block the event loop.
    ssize_t sent;
    do {
      sent = sendto(fd, data, data_len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&addr, addr_len);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) rc = -errno;
    close(fd);
  }
  napi_create_int32(env, rc, &result);
  return result;
}

__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "send", NAPI_AUTO_LENGTH, Send, NULL, &fn) == 0) {
    napi_set_named_property(env, exports, "send", fn);
  }
  return exports;
}
