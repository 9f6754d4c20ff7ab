@testable import Presentation
@testable import Reactor
import Testing
import Glibc

/// A PCM's route and dmix key, read from alsa-lib's configuration (the rig's
/// `mdroute_*` definitions, ALSATestRig.routeDefinitions). Serialized with
/// nothing else needed: reading the configuration opens no device.
@Suite(.enabled(if: ALSATestRig.productsAvailable, "build the package first"))
struct PCMRouteTests {
    init() { _ = ALSATestRig.installedInProcess }

    @Test func plugOnADmixGivesTheCardsNodeAndTheKeyAlsaLibUses() throws {
        let route = try #require(PCMRouteLookup.resolve("mdroute_plug"))
        #expect(route.card == 3 && route.device == 0 && route.subdevice == -1)
        #expect(route.nodeName == "pcmC3D0p")
        #expect(route.hardwareName == "hw:3,0")
        let direct = try #require(route.direct)
        #expect(direct.type == "dmix" && direct.name == "mdroute_dmix")
        #expect(direct.configuredKey == 1028 && !direct.addsUID)
        // 1028 + (card 3 << 12): what bookworm's guest showed as 0x3404.
        #expect(direct.key == 0x3404)
        #expect(SysVIPC.hex(0x3404) == "0x00003404")
    }

    @Test func aLongerChainOfNamedSlavesEndsAtTheSameDmix() throws {
        let route = try #require(PCMRouteLookup.resolve("mdroute_chain"))
        #expect(route.direct?.name == "mdroute_dmix")
        #expect(route.direct?.key == 0x3404)
        #expect(route.nodeName == "pcmC3D0p")
    }

    @Test func ipcKeyAddUIDAddsTheUIDAndTheSubdeviceCounts() throws {
        let route = try #require(PCMRouteLookup.resolve("mdroute_uid", uid: 1000))
        #expect(route.direct?.addsUID == true)
        let expected: Int32 = 2048 + 1000 + 4 + 256 + 4096   // + uid + device 1 << 2 + subdevice 1 << 8 + card 1 << 12
        #expect(route.direct?.key == expected)
        #expect(route.nodeName == "pcmC1D1p" && route.hardwareName == "hw:1,1,1")
        let asRoot: Int32 = 2048 + 4 + 256 + 4096
        #expect(PCMRouteLookup.resolve("mdroute_uid", uid: 0)?.direct?.key == asRoot)
    }

    @Test func aNamedPCMSlaveAndTheCaptureDirection() throws {
        let route = try #require(PCMRouteLookup.resolve("mdroute_named_slave", capture: true))
        #expect(route.direct?.type == "dsnoop")
        let expected: Int32 = 5000 + 2 + 8192   // + capture 1 << 1 + card 2 << 12
        #expect(route.direct?.key == expected)
        #expect(route.nodeName == "pcmC2D0c")
    }

    @Test func aPlugStraightOnHardwareHasNoDirectPlugin() throws {
        let route = try #require(PCMRouteLookup.resolve("mdroute_plain"))
        #expect(route.direct == nil)
        #expect(route.nodeName == "pcmC6D2p")
    }

    @Test func onlyTheDmixOnTheSameCardSharesTheKey() {
        // AmpliPi's twelve lbN share ipc_key 1028, but alsa-lib adds the card:
        // only a second dmix on card 3 meets mdroute_dmix's segment.
        // The plug, route and softvol on mdroute_dmix count as mdroute_dmix.
        #expect(PCMRouteLookup.directPCMs(withKey: 0x3404, excluding: ["mdroute_plug", "mdroute_dmix"]) == ["mdroute_twin"])
        #expect(PCMRouteLookup.directPCMs(withKey: 0x3404, excluding: []) == ["mdroute_dmix", "mdroute_twin"])
        #expect(PCMRouteLookup.directPCMs(withKey: 0x4404, excluding: []) == ["mdroute_other_card"])
    }

    @Test func undefinedLoopedAndExternalPCMsHaveNoRoute() {
        #expect(PCMRouteLookup.resolve("mdroute_not_defined") == nil)
        #expect(PCMRouteLookup.resolve("mdroute_loop") == nil)
        // The test plugin (an external type): unknown, so every /dev/snd user counts.
        #expect(PCMRouteLookup.resolve("mdtestunlocked:STATE=\"/nonexistent\"") == nil)
    }

    @Test func theKeyFormulaMatchesPcmDirect() {
        #expect(PCMRoute.directKey(configured: 1028, addsUID: false, uid: 0, card: 2, device: 0, subdevice: -1, capture: false) == 0x2404)
        #expect(PCMRoute.directKey(configured: 1024, addsUID: false, uid: 0, card: 0, device: 1, subdevice: -1, capture: false)
                == PCMRoute.directKey(configured: 1028, addsUID: false, uid: 0, card: 0, device: 0, subdevice: -1, capture: false),
                "ipc_key 1024 on device 1 and 1028 on device 0 of one card collide")
    }
}
