import TestSupport

extension FakeSoundCard {
    /// A card whose files live in the test's scratch directory.
    convenience init(_ scratch: Scratch, devices: [String] = ["lb0c", "lb1c"]) {
        self.init(in: scratch.path, devices: devices)
    }
}
