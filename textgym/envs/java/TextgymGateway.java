// textgym's py4j gateway: py4j's own GatewayServer with TCP_NODELAY on every connection.
//
// Why: py4j's server writes a reply through an 8 KB buffer, so a reply longer than 8 KB (the
// admissible commands of a ScienceWorld state are 10-200 KB) leaves the socket in two writes.
// With Nagle's algorithm on, the second write waits for the client's acknowledgement of the
// first, which the client's kernel delays by ~40 ms: every long reply cost 40 ms on loopback.
// Built by textgym/envs/jvm.py with javac on first use; without a JDK, textgym falls back to
// py4j's stock server and splits long replies into short ones instead.
//
// Protocol with the parent (what py4j's own `--die-on-broken-pipe` launcher does): print the
// listening port on stdout, then exit when stdin closes, so the JVM never outlives its parent.
package textgym;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.Socket;

import py4j.Gateway;
import py4j.GatewayServer;
import py4j.Py4JServerConnection;

public final class TextgymGateway extends GatewayServer {

    private TextgymGateway() {
        super((Object) null, 0);  // no entry point; an ephemeral port
    }

    @Override
    protected Py4JServerConnection createConnection(Gateway gateway, Socket socket) throws IOException {
        socket.setTcpNoDelay(true);
        return super.createConnection(gateway, socket);
    }

    public static void main(String[] args) {
        TextgymGateway server = new TextgymGateway();
        server.start();
        System.out.println(server.getListeningPort());
        System.out.flush();
        // The parent reads only the port: the simulators' own chatter on stdout is dropped, as
        // py4j's launcher drops it, so a full pipe can never block the JVM.
        System.setOut(new PrintStream(OutputStream.nullOutputStream()));
        byte[] buffer = new byte[256];
        try {
            while (System.in.read(buffer) != -1) {
                // nothing is sent on stdin; end of file means the parent is gone
            }
        } catch (IOException broken) {
            // a broken pipe means the parent is gone too
        }
        System.exit(0);
    }
}
