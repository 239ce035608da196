package cronbox.testsupport;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.core.common.transport.TransportAddress;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Runs one OpenSearch node in this JVM for cronbox's tests.
 *
 * <p>Arguments are key=value node settings (path.home, path.data, path.repo,
 * http.port, cluster.name, ...) plus one of our own, cronbox.ready_file: once
 * the node has started, the HTTP address it bound ("127.0.0.1:PORT") is
 * written there, atomically. The node stops when standard input reaches its
 * end, so a test that dies without stopping it does not leave a JVM behind.
 */
public final class OpenSearchNode {

    /** Node's constructor that takes classpath plugins is protected: this opens it. */
    static final class ClasspathNode extends Node {
        ClasspathNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> kv = new HashMap<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                System.err.println("opensearch-node: argument " + a + " is not key=value");
                System.exit(2);
            }
            kv.put(a.substring(0, eq), a.substring(eq + 1));
        }
        String readyFile = kv.remove("cronbox.ready_file");
        if (!kv.containsKey("path.home")) {
            System.err.println("opensearch-node: path.home=DIR is required");
            System.exit(2);
        }

        Settings.Builder b = Settings.builder()
                .put("discovery.type", "single-node")
                .put("http.type", "netty4")
                .put("transport.type", "netty4")
                .put("network.host", "127.0.0.1")
                .put("node.name", "cronbox-test")
                .put("cluster.name", "cronbox-test")
                .put("action.auto_create_index", "true")
                // Tests fill small disks: don't let the watermarks turn indices read-only.
                .put("cluster.routing.allocation.disk.threshold_enabled", "false");
        kv.forEach(b::put);

        Environment env = InternalSettingsPreparer.prepareEnvironment(
                b.build(), Map.of(), null, () -> "cronbox-test");
        List<Class<? extends Plugin>> plugins =
                List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, PainlessPlugin.class);
        Node node = new ClasspathNode(env, plugins);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> closeQuietly(node)));
        node.start();

        TransportAddress http = node.injector().getInstance(HttpServerTransport.class)
                .boundAddress().publishAddress();
        String addr = http.getAddress() + ":" + http.getPort();
        System.err.println("opensearch-node: started, http " + addr);
        if (readyFile != null) {
            Path target = Paths.get(readyFile);
            Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
            Files.write(tmp, (addr + "\n").getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        }

        InputStream in = System.in;
        byte[] buf = new byte[256];
        while (in.read(buf) >= 0) {
            // Drain until the parent closes our stdin (or dies).
        }
        System.err.println("opensearch-node: stdin closed, stopping");
        closeQuietly(node);
        System.exit(0);
    }

    private static void closeQuietly(Node node) {
        try {
            node.close();
        } catch (IOException | RuntimeException e) {
            System.err.println("opensearch-node: close: " + e);
        }
    }
}
