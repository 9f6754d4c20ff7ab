/// A dmix, dsnoop or dshare on the way from a PCM to the hardware, and the
/// System V key alsa-lib uses for its shared memory and semaphore.
public struct DirectPlugin: Equatable, Sendable {
    /// `dmix`, `dsnoop` or `dshare`.
    public var type: String
    /// The definition's name (`lb1`) when the route named it; nil when inline.
    public var name: String?
    /// `ipc_key` as the configuration writes it.
    public var configuredKey: Int32
    public var addsUID: Bool
    /// The key alsa-lib passes to shmget/semget, nil when the hw end is unknown.
    public var key: Int32?

    public init(type: String, name: String?, configuredKey: Int32, addsUID: Bool, key: Int32?) {
        self.type = type
        self.name = name
        self.configuredKey = configuredKey
        self.addsUID = addsUID
        self.key = key
    }
}

/// Where a PCM ends: the hw card, device and subdevice behind its plug,
/// route, softvol, dmix... slaves, and the direct plugin met on the way.
public struct PCMRoute: Equatable, Sendable {
    /// nil: the route does not end in a `hw` PCM monitord understands (an
    /// external plugin, `null`, a card that is not there).
    public var card: Int?
    public var device = 0
    public var subdevice = -1
    public var capture = false
    public var direct: DirectPlugin?

    public init(card: Int? = nil, device: Int = 0, subdevice: Int = -1, capture: Bool = false, direct: DirectPlugin? = nil) {
        self.card = card
        self.device = device
        self.subdevice = subdevice
        self.capture = capture
        self.direct = direct
    }

    /// The device node the route opens, `pcmC3D0p`.
    public var nodeName: String? {
        card.map { "pcmC\($0)D\(device)\(capture ? "c" : "p")" }
    }

    /// The hw end as an ALSA name, `hw:3,0`.
    public var hardwareName: String? {
        card.map { "hw:\($0),\(device)" + (subdevice >= 0 ? ",\(subdevice)" : "") }
    }

    /// alsa-lib's key for a direct plugin (pcm_direct.c, the same in 1.2.4
    /// and 1.2.8): ipc_key, plus the uid with ipc_key_add_uid, plus an
    /// offset from the slave: stream << 1, device << 2, subdevice << 8
    /// (an unset subdevice counts as 0), card << 12. So one ipc_key on
    /// several cards gives one key per card.
    public static func directKey(configured: Int32, addsUID: Bool, uid: UInt32, card: Int, device: Int, subdevice: Int,
                                 capture: Bool) -> Int32 {
        var key = Int64(configured)
        if addsUID { key += Int64(uid) }
        key += Int64(capture ? 1 : 0) << 1
        key += Int64(max(device, 0)) << 2
        key += Int64(max(subdevice, 0)) << 8
        key += Int64(max(card, 0)) << 12
        return Int32(truncatingIfNeeded: key)
    }
}
