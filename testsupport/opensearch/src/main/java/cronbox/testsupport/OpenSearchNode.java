package cronbox.testsupport;

import java.io.InputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Runs one OpenSearch (org.opensearch) or Elasticsearch 7.x (org.elasticsearch)
 * node in this JVM for cronbox's tests, with whichever of the two is on the
 * classpath.
 *
 * <p>Both servers share the same embedding seam: Node's protected constructor
 * (Environment, classpath plugin classes, forbidPrivateIndexSettings). We reach
 * it by reflection, so this one class compiles without either server and
 * serves both classpaths that prepare builds.
 *
 * <p>Arguments are key=value node settings (path.home, path.data, path.repo,
 * http.port, cluster.name, ...) plus one of our own, cronbox.ready_file: once
 * the node has started, the HTTP address it bound ("127.0.0.1:PORT") is
 * written there atomically. The node stops when standard input ends, so a
 * test process that dies does not leave a JVM behind.
 */
public final class OpenSearchNode {

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable e) {
            // The node's threads are not daemons: without exit the JVM would linger.
            System.err.println("cronbox-test-node: failed to start:");
            e.printStackTrace();
            System.exit(1);
        }
    }

    private static void run(String[] args) throws Exception {
        Map<String, String> kv = new LinkedHashMap<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                die("argument " + a + " is not key=value");
            }
            kv.put(a.substring(0, eq), a.substring(eq + 1));
        }
        String readyFile = kv.remove("cronbox.ready_file");
        if (!kv.containsKey("path.home")) {
            die("path.home=DIR is required");
        }

        String p = present("org.opensearch.node.Node") ? "org.opensearch" : "org.elasticsearch";
        if (!present(p + ".node.Node")) {
            die("neither org.opensearch nor org.elasticsearch is on the classpath");
        }

        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("discovery.type", "single-node");
        settings.put("http.type", "netty4");
        settings.put("transport.type", "netty4");
        settings.put("network.host", "127.0.0.1");
        settings.put("node.name", "cronbox-test");
        settings.put("cluster.name", "cronbox-test");
        // Test machines have small, full disks: don't let watermarks block writes.
        settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
        settings.putAll(kv);

        Class<?> settingsClass = Class.forName(p + ".common.settings.Settings");
        Object builder = settingsClass.getMethod("builder").invoke(null);
        Method put = builder.getClass().getMethod("put", String.class, String.class);
        for (Map.Entry<String, String> e : settings.entrySet()) {
            put.invoke(builder, e.getKey(), e.getValue());
        }
        Object built = builder.getClass().getMethod("build").invoke(builder);

        Class<?> envClass = Class.forName(p + ".env.Environment");
        Supplier<String> nodeName = () -> "cronbox-test";
        Object env = Class.forName(p + ".node.InternalSettingsPreparer")
                .getMethod("prepareEnvironment", settingsClass, Map.class, Path.class, Supplier.class)
                .invoke(null, built, Map.of(), null, nodeName);

        // The modules a distribution would load from modules/: HTTP and
        // transport over netty (Netty4ModulePlugin from OpenSearch 3), the
        // analyzers, and painless where present.
        List<Class<?>> plugins = new ArrayList<>();
        for (String name : new String[] {
                p + ".transport.Netty4Plugin",
                p + ".transport.Netty4ModulePlugin",
                p + ".analysis.common.CommonAnalysisPlugin",
                p + ".painless.PainlessPlugin"}) {
            if (present(name)) {
                plugins.add(Class.forName(name));
            }
        }

        Class<?> nodeClass = Class.forName(p + ".node.Node");
        Constructor<?> ctor = nodeClass.getDeclaredConstructor(envClass, Collection.class, boolean.class);
        ctor.setAccessible(true);
        // OpenSearch 3 takes PluginInfo descriptors of classpath plugins
        // where earlier versions took the classes themselves.
        Collection<?> pluginArg = plugins;
        if (ctor.getGenericParameterTypes()[1].getTypeName().endsWith("PluginInfo>")) {
            pluginArg = pluginInfos(p, plugins);
        }
        Collection<?> finalPluginArg = pluginArg;
        Object node = unwrap(() -> ctor.newInstance(env, finalPluginArg, true));
        Method close = nodeClass.getMethod("close");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> closeQuietly(node, close)));
        unwrap(() -> nodeClass.getMethod("start").invoke(node));

        // Look methods up on the public types: the implementations are not public.
        Object injector = nodeClass.getMethod("injector").invoke(node);
        Class<?> httpClass = Class.forName(p + ".http.HttpServerTransport");
        Object http = Class.forName(p + ".common.inject.Injector")
                .getMethod("getInstance", Class.class).invoke(injector, httpClass);
        Object bound = httpClass.getMethod("boundAddress").invoke(http);
        Object publish = bound.getClass().getMethod("publishAddress").invoke(bound);
        String addr = publish.getClass().getMethod("getAddress").invoke(publish) + ":"
                + publish.getClass().getMethod("getPort").invoke(publish);
        System.err.println("cronbox-test-node: " + p + " started, http " + addr);
        if (readyFile != null) {
            Path target = Paths.get(readyFile);
            Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
            Files.write(tmp, (addr + "\n").getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        }

        InputStream in = System.in;
        byte[] buf = new byte[256];
        while (in.read(buf) >= 0) {
            // Wait for the parent to close our stdin (or to die).
        }
        System.err.println("cronbox-test-node: stdin closed, stopping");
        closeQuietly(node, close);
        System.exit(0);
    }

    /** Describes classpath plugins as their plugin-descriptor.properties would. */
    private static List<Object> pluginInfos(String p, List<Class<?>> plugins) throws Exception {
        Class<?> infoClass = Class.forName(p + ".plugins.PluginInfo");
        Class<?> versionClass = Class.forName(p + ".Version");
        Object current = versionClass.getField("CURRENT").get(null);
        Constructor<?> info = infoClass.getConstructor(String.class, String.class, String.class, versionClass,
                String.class, String.class, List.class, boolean.class);
        List<Object> out = new ArrayList<>();
        for (Class<?> c : plugins) {
            out.add(info.newInstance(c.getSimpleName(), "classpath plugin", "NA", current,
                    System.getProperty("java.specification.version"), c.getName(), List.of(), false));
        }
        return out;
    }

    private interface Call {
        Object call() throws Exception;
    }

    /** Rethrows what the reflected call threw, so the JVM's last words name the real cause. */
    private static Object unwrap(Call c) throws Exception {
        try {
            return c.call();
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception) {
                throw (Exception) cause;
            }
            throw e;
        }
    }

    private static boolean present(String className) {
        try {
            Class.forName(className, false, OpenSearchNode.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    private static void closeQuietly(Object node, Method close) {
        try {
            close.invoke(node);
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("cronbox-test-node: close: " + e);
        }
    }

    private static void die(String msg) {
        System.err.println("cronbox-test-node: " + msg);
        System.exit(2);
    }
}
