// textgym's fast path for ScienceWorld 1.2.3's admissible commands, compiled against its jar.
//
// `PythonInterface.getValidActionObjectCombinations()` spends most of its time choosing a unique
// name ("referent") for every visible object and then for every object in the world, with Scala
// collections (a frequency map rebuilt 20 times per call, boxed comparisons). `validActions` does
// the same computation step for step -- the same objects in the same order, the same referents,
// the same draws from the simulator's shared random generator (`scala.util.Random`), the same
// action generator -- with plain Java maps, and each object's referents computed once per call
// instead of twice. It returns the commands sorted (as the simulator does) in one string.
// The algorithm mirrors scienceworld.input.InputParser (getAllUniqueReferentsLUTObjList,
// chooseUniqueReferents, filterDuplicateReferents) and AgentInterface.getValidActionObjectCombinations
// of scienceworld 1.2.3; tests compare it with the simulator's own method command for command.
package textgym;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import scala.collection.Iterator;
import scienceworld.actions.PossibleAction;
import scienceworld.input.ActionDefinitions;
import scienceworld.input.InputParser;
import scienceworld.runtime.AgentInterface;
import scienceworld.runtime.pythonapi.PythonInterface;
import scienceworld.struct.EnvObject;

public final class ScienceWorldBridge {

    private static final int MAX_ATTEMPTS = 20;  // InputParser.chooseUniqueReferents
    private static final int STEPPING_ATTEMPTS = 10;

    private ScienceWorldBridge() {
    }

    /** The sorted admissible commands, one per line, exactly as getValidActionObjectCombinations. */
    public static String validActions(PythonInterface simulator) {
        if (!simulator.agentInterface().isDefined()) {
            return String.join("\n", simulator.getValidActionObjectCombinations());
        }
        AgentInterface agentInterface = simulator.agentInterface().get();
        if (agentInterface.inputParser().isInAmbiguousState()) {
            return sortedLines(agentInterface.getValidActionsAmbiguousState());
        }
        EnvObject visibleRoot = agentInterface.getAgentVisibleObjects(false)._2();
        EnvObject[] visible = toArray(InputParser.collectObjects(visibleRoot, false).iterator());
        Map<Long, String[]> referents = new HashMap<>();  // keyed by uuid: identity hashes may all be equal
        Map<Long, String> visibleNames = uniqueReferents(visible, visibleRoot, referents);
        EnvObject[] all = toArray(InputParser.collectObjects(agentInterface.universe(), true).iterator());
        Map<Long, String> allNames = uniqueReferents(all, visibleRoot, referents);
        PossibleAction[] actions = ActionDefinitions.mkPossibleActions(
                agentInterface.agent(), visible, all, toScala(visibleNames), toScala(allNames));
        String[] commands = new String[actions.length];
        for (int i = 0; i < actions.length; i++) {
            commands[i] = actions[i].mkHumanReadableStr();
        }
        return sortedLines(commands);
    }

    private static String sortedLines(String[] lines) {
        Arrays.sort(lines);
        return String.join("\n", lines);
    }

    private static EnvObject[] toArray(Iterator<EnvObject> objects) {
        List<EnvObject> out = new ArrayList<>();
        while (objects.hasNext()) {
            out.add(objects.next());
        }
        return out.toArray(new EnvObject[0]);
    }

    /** uuid -> unique referent, as InputParser.getAllUniqueReferentsLUTObjList. */
    private static Map<Long, String> uniqueReferents(EnvObject[] objects, EnvObject perspective,
                                                    Map<Long, String[]> cache) {
        String[][] candidates = new String[objects.length][];
        for (int i = 0; i < objects.length; i++) {
            EnvObject object = objects[i];
            String[] names = cache.get(object.uuid());
            if (names == null) {
                names = toStrings(object.getReferentsWithContainers(perspective).iterator());
                Arrays.sort(names);
                cache.put(object.uuid(), names);
            }
            candidates[i] = names;
        }
        String[] chosen = chooseUniqueReferents(candidates);
        Map<Long, String> out = new HashMap<>();
        for (int i = 0; i < objects.length; i++) {
            out.put(objects[i].uuid(), chosen[i].toLowerCase());
        }
        return out;
    }

    private static String[] toStrings(Iterator<String> strings) {
        List<String> out = new ArrayList<>();
        while (strings.hasNext()) {
            out.add(strings.next());
        }
        return out.toArray(new String[0]);
    }

    /** InputParser.chooseUniqueReferents: the same index moves and the same random draws. */
    private static String[] chooseUniqueReferents(String[][] candidates) {
        String[][] names = filterDuplicateReferents(candidates);
        int[] indices = new int[names.length];
        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            Map<String, Integer> frequency = new HashMap<>();
            for (int i = 0; i < names.length; i++) {
                frequency.merge(names[i][indices[i]], 1, Integer::sum);
            }
            for (int i = 0; i < names.length; i++) {
                if (frequency.get(names[i][indices[i]]) > 1) {
                    indices[i] = attempt < STEPPING_ATTEMPTS
                            ? (indices[i] + 1) % names[i].length
                            : scala.util.Random$.MODULE$.nextInt(names[i].length);
                }
            }
        }
        String[] out = new String[names.length];
        for (int i = 0; i < names.length; i++) {
            out[i] = names[i][indices[i]];
        }
        return out;
    }

    /** InputParser.filterDuplicateReferents: drop names any two objects share, unless none is left. */
    private static String[][] filterDuplicateReferents(String[][] candidates) {
        Map<String, Integer> frequency = new HashMap<>();
        for (String[] names : candidates) {
            for (String name : names) {
                frequency.merge(name.toLowerCase(), 1, Integer::sum);
            }
        }
        String[][] out = new String[candidates.length][];
        for (int i = 0; i < candidates.length; i++) {
            List<String> kept = new ArrayList<>();
            for (String name : candidates[i]) {
                if (frequency.get(name.toLowerCase()) <= 1) {
                    kept.add(name);
                }
            }
            out[i] = kept.isEmpty() ? candidates[i] : kept.toArray(new String[0]);
        }
        return out;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static scala.collection.immutable.Map toScala(Map<Long, String> lookup) {
        scala.collection.mutable.Map scalaLookup = (scala.collection.mutable.Map)
                scala.collection.JavaConverters.mapAsScalaMapConverter((Map) lookup).asScala();
        return scalaLookup.toMap((scala.Predef.$less$colon$less) scala.Predef.$conforms());
    }
}
