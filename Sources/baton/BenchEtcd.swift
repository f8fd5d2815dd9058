/// `baton bench etcd --endpoints URL`: a placeholder until the etcd benchmark lands (issue 4).
///
/// Only the arguments are checked here; the engineer implementing the etcd benchmark replaces this file.
func runEtcdBench(_ arguments: [String]) async -> Int32 {
    var endpoints: String?
    var rest = arguments[...]
    while let flag = rest.popFirst() {
        switch (flag, rest.popFirst()) {
        case ("--endpoints", let value?) where !value.isEmpty: endpoints = value
        default:
            print("usage: baton bench etcd --endpoints URL[,URL...]")
            return 2
        }
    }
    guard endpoints != nil else {
        print("usage: baton bench etcd --endpoints URL[,URL...]")
        return 2
    }
    print("etcd benchmark: see issue 4")
    return 1  // nothing was measured
}
