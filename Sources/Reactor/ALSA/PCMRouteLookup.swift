import Presentation
import CALSA
import CLibc

/// Reads a PCM's route from alsa-lib's configuration (the same files and
/// definitions an open would use), without opening anything.
public enum PCMRouteLookup {
    /// Levels of slaves followed before giving up (alsa-lib's own limit is 64).
    static let maximumHops = 16

    /// The route of `name`, or nil when it is not defined or cannot be read.
    public static func resolve(_ name: String, capture: Bool = false, uid: UInt32 = getuid()) -> PCMRoute? {
        var top: OpaquePointer?
        guard snd_config_update_ref(&top) >= 0, let top else { return nil }
        defer { snd_config_unref(top) }
        var walk = Walk(root: top, capture: capture, uid: uid)
        guard walk.named(name, hop: 0) else { return nil }
        return walk.route
    }

    /// The PCMs of the configuration whose dmix/dsnoop/dshare comes out with
    /// `key`: each named by its direct plugin's definition (`lb2` for
    /// AmpliPi's `lb2c`, a plug on the dmix `lb2`), or by its own name when
    /// the direct plugin is inline. Names in `excluded` are left out (the
    /// probed PCM and its own dmix). Definitions taking arguments are
    /// skipped (alsa.conf's `hw`, `dmix`, `front`...: no fixed key).
    public static func directPCMs(withKey key: Int32, excluding excluded: Set<String>, capture: Bool = false,
                                  uid: UInt32 = getuid()) -> [String] {
        var top: OpaquePointer?
        guard snd_config_update_ref(&top) >= 0, let top else { return [] }
        defer { snd_config_unref(top) }
        var definitions: OpaquePointer?
        guard snd_config_search(top, "pcm", &definitions) >= 0, let definitions else { return [] }
        var names: Set<String> = []
        var iterator = snd_config_iterator_first(definitions)
        while iterator != snd_config_iterator_end(definitions) {
            defer { iterator = snd_config_iterator_next(iterator) }
            guard let entry = snd_config_iterator_entry(iterator), let id = Walk.id(of: entry), !excluded.contains(id),
                  snd_config_get_type(entry) == SND_CONFIG_TYPE_COMPOUND else { continue }
            var arguments: OpaquePointer?
            if snd_config_search(entry, "@args", &arguments) >= 0 { continue }
            var walk = Walk(root: top, capture: capture, uid: uid)
            guard walk.named(id, hop: 0), let direct = walk.route.direct, direct.key == key else { continue }
            let name = direct.name ?? id
            if !excluded.contains(name) { names.insert(name) }
        }
        return names.sorted()
    }

    /// One walk down the slaves.
    struct Walk {
        static let directTypes: Set<String> = ["dmix", "dsnoop", "dshare"]
        let root: OpaquePointer
        let capture: Bool
        let uid: UInt32
        var route = PCMRoute()
        /// The name the walk came through last, for the direct plugin's name.
        private var lastName: String?

        init(root: OpaquePointer, capture: Bool, uid: UInt32) {
            self.root = root
            self.capture = capture
            self.uid = uid
            route.capture = capture
        }

        /// A PCM given by name (with arguments: `hw:Loopback_1,0`).
        mutating func named(_ name: String, hop: Int) -> Bool {
            guard hop <= PCMRouteLookup.maximumHops else { return false }
            var definition: OpaquePointer?
            guard snd_config_search_definition(root, "pcm", name, &definition) >= 0, let definition else { return false }
            defer { snd_config_delete(definition) }
            lastName = name
            return walk(definition, hop: hop)
        }

        /// A PCM node: a name or an inline definition.
        mutating func pcm(_ node: OpaquePointer, hop: Int) -> Bool {
            var text: UnsafePointer<CChar>?
            if snd_config_get_string(node, &text) >= 0, let text { return named(String(cString: text), hop: hop + 1) }
            lastName = nil
            return walk(node, hop: hop + 1)
        }

        mutating func walk(_ definition: OpaquePointer, hop: Int) -> Bool {
            guard hop <= PCMRouteLookup.maximumHops, let type = Self.string(definition, "type") else { return false }
            if type == "hw" {
                route.card = Self.card(definition)
                route.device = Self.integer(definition, "device") ?? 0
                route.subdevice = Self.integer(definition, "subdevice") ?? -1
                if var direct = route.direct, let card = route.card {
                    direct.key = PCMRoute.directKey(configured: direct.configuredKey, addsUID: direct.addsUID, uid: uid,
                                                    card: card, device: route.device, subdevice: route.subdevice,
                                                    capture: capture)
                    route.direct = direct
                }
                return true
            }
            if Self.directTypes.contains(type) && route.direct == nil {
                guard let key = Self.integer(definition, "ipc_key") else { return false }
                route.direct = DirectPlugin(type: type, name: lastName, configuredKey: Int32(truncatingIfNeeded: key),
                                            addsUID: Self.bool(definition, "ipc_key_add_uid") ?? false, key: nil)
            }
            return slave(definition, hop: hop)
        }

        /// `slave.pcm`, `slave { pcm ... }`, or `slave NAME` (a pcm_slave definition).
        private mutating func slave(_ definition: OpaquePointer, hop: Int) -> Bool {
            var slave: OpaquePointer?
            guard snd_config_search(definition, "slave", &slave) >= 0, let slave else { return false }
            var text: UnsafePointer<CChar>?
            if snd_config_get_string(slave, &text) >= 0, let text {
                var named: OpaquePointer?
                guard snd_config_search_definition(root, "pcm_slave", String(cString: text), &named) >= 0, let named else { return false }
                defer { snd_config_delete(named) }
                var node: OpaquePointer?
                guard snd_config_search(named, "pcm", &node) >= 0, let node else { return false }
                return pcm(node, hop: hop)
            }
            var node: OpaquePointer?
            guard snd_config_search(slave, "pcm", &node) >= 0, let node else { return false }
            return pcm(node, hop: hop)
        }

        static func id(of node: OpaquePointer) -> String? {
            var id: UnsafePointer<CChar>?
            guard snd_config_get_id(node, &id) >= 0, let id else { return nil }
            return String(cString: id)
        }

        static func string(_ node: OpaquePointer, _ key: String) -> String? {
            var child: OpaquePointer?
            var text: UnsafePointer<CChar>?
            guard snd_config_search(node, key, &child) >= 0, let child, snd_config_get_string(child, &text) >= 0, let text else { return nil }
            return String(cString: text)
        }

        static func integer(_ node: OpaquePointer, _ key: String) -> Int? {
            var child: OpaquePointer?
            guard snd_config_search(node, key, &child) >= 0, let child else { return nil }
            var value: CLong = 0
            guard snd_config_get_integer(child, &value) >= 0 else { return nil }
            return Int(value)
        }

        static func bool(_ node: OpaquePointer, _ key: String) -> Bool? {
            var child: OpaquePointer?
            guard snd_config_search(node, key, &child) >= 0, let child else { return nil }
            let value = snd_config_get_bool(child)
            return value < 0 ? nil : value != 0
        }

        /// `card 3` or `card Loopback_1` (looked up among the cards present).
        static func card(_ node: OpaquePointer) -> Int? {
            if let number = integer(node, "card") { return number >= 0 ? number : nil }
            guard let name = string(node, "card") else { return nil }
            let index = snd_card_get_index(name)
            return index >= 0 ? Int(index) : nil
        }
    }
}
