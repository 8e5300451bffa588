#pragma once
#include <napi.h>

namespace stele {
Napi::Function MappedLogClass(Napi::Env env);
// Tests only: arms one failure of a log system call (mapped_log.cc, InjectedFault).
Napi::Value InjectLogFault(const Napi::CallbackInfo& info);
}
