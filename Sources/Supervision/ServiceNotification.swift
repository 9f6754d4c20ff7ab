/// Messages for the service manager (sd_notify).
public enum ServiceNotification: Equatable, Sendable {
    case ready
    case stopping
}
