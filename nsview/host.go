package nsview

// HostNS is the namespace path of the calling process: for plumb, the
// host's, where the bridges and the host ends of the veths are.
const HostNS = "/proc/self/ns/net"

// Enter is the command a person types to run cmd inside the network
// namespace at nsPath: `nsenter --net=PATH CMD`, or cmd itself for
// HostNS.
func Enter(nsPath, cmd string) string {
	if nsPath == HostNS {
		return cmd
	}
	return "nsenter --net=" + nsPath + " " + cmd
}
