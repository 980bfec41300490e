/** ZooKeeper connect strings, without loading a client library. */

/** Split "h1:2181,h2:2181/chroot" into members and chroot. */
export function parseConnectString(connect: string): { members: string[]; chroot: string } {
  const slash = connect.indexOf('/');
  const hosts = slash === -1 ? connect : connect.slice(0, slash);
  const chroot = slash === -1 ? '' : connect.slice(slash).replace(/\/+$/, '');
  return {
    members: hosts
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean),
    chroot,
  };
}
