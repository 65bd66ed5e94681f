// textgym's fast path for ScienceWorld 1.2.3's admissible commands, compiled against its jar.
//
// `PythonInterface.getValidActionObjectCombinations()` spends most of its time choosing a unique
// name ("referent") for every visible object and then for every object in the world, with Scala
// collections (a frequency map of strings rebuilt 20 times per call). `validActions` does the same
// computation step for step -- the same objects in the same order, the same referents, the same
// draws from the simulator's shared random generator (`scala.util.Random`), the same action
// generator -- but counts integer ids of the referents in arrays, and computes each object's
// referents once per call instead of twice. It returns the commands sorted, as the simulator does,
// in one string.
// The algorithm mirrors scienceworld.input.InputParser (getAllUniqueReferentsLUTObjList,
// chooseUniqueReferents, filterDuplicateReferents) and AgentInterface.getValidActionObjectCombinations
// of scienceworld 1.2.3; tests compare it with the simulator's own method command for command.
package textgym;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import scala.Tuple2;
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

    /**
     * Give the loaded episode a MemoizingInputParser (call after every load: a load makes a new
     * AgentInterface, with a new parser). False, with the simulator's parser left in place, where
     * no episode is loaded or the field is not where this was written to find it.
     */
    public static boolean installParser(PythonInterface simulator) {
        if (!simulator.agentInterface().isDefined()) {
            return false;
        }
        AgentInterface agentInterface = simulator.agentInterface().get();
        try {
            java.lang.reflect.Field field = AgentInterface.class.getDeclaredField("inputParser");
            field.setAccessible(true);
            field.set(agentInterface, new MemoizingInputParser(agentInterface.actionHandler().getActions()));
            return true;
        } catch (ReflectiveOperationException | RuntimeException unexpected) {
            return false;
        }
    }

    /**
     * The simulator's parser, with each object's names computed once per parse. Its `parse` tries
     * every trigger of every action on the input, and each try named every visible object again
     * (`InputParser.getObjectReferents`: the object's names with their containers, each tokenised
     * with a regular expression): most of a step's time. Names do not change during a parse (no
     * world time passes), so `matchObj` here returns what the simulator's returns, from a table.
     */
    public static final class MemoizingInputParser extends InputParser {

        private final Map<Long, String[]> names = new HashMap<>();  // uuid -> names, for one parse
        private EnvObject namesPerspective;

        MemoizingInputParser(language.model.ActionRequestDef[] actions) {
            super(actions);
        }

        @Override
        public scala.Tuple4<Object, String, String, scala.Option<scienceworld.actions.Action>> parse(
                String input, EnvObject visibleRoot, EnvObject universe,
                scienceworld.objects.agent.Agent agent,
                scienceworld.tasks.goals.ObjMonitor monitor, scienceworld.tasks.goals.GoalSequence goals,
                EnvObject perspective) {
            names.clear();
            try {
                return super.parse(input, visibleRoot, universe, agent, monitor, goals, perspective);
            } finally {
                names.clear();
                namesPerspective = null;
            }
        }

        /** InputParser.matchObj: (any match, (rest of the input, object) for each name it starts with). */
        @Override
        @SuppressWarnings("unchecked")
        public Tuple2<Object, Tuple2<String, EnvObject>[]> matchObj(String input, EnvObject[] objects,
                                                                    EnvObject perspective) {
            if (perspective != namesPerspective) {
                names.clear();
                namesPerspective = perspective;
            }
            List<Tuple2<String, EnvObject>> out = new ArrayList<>();
            for (EnvObject object : objects) {
                String[] referents = names.get(object.uuid());
                if (referents == null) {
                    referents = InputParser.getObjectReferents(object, perspective);
                    names.put(object.uuid(), referents);
                }
                for (String referent : referents) {
                    if (input.startsWith(referent)) {
                        out.add(new Tuple2<>(input.substring(referent.length()).trim(), object));
                    }
                }
            }
            return new Tuple2<>(!out.isEmpty(), out.toArray(new Tuple2[0]));
        }
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
        EnvObject[] visible = toList(InputParser.collectObjects(visibleRoot, false).iterator())
                .toArray(new EnvObject[0]);
        Names names = new Names();
        Map<Long, String> visibleNames = uniqueReferents(visible, visibleRoot, names);
        EnvObject[] all = toList(InputParser.collectObjects(agentInterface.universe(), true).iterator())
                .toArray(new EnvObject[0]);
        Map<Long, String> allNames = uniqueReferents(all, visibleRoot, names);
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

    /** A Scala collection's elements, in its iteration order. */
    private static <T> List<T> toList(Iterator<T> items) {
        List<T> out = new ArrayList<>();
        while (items.hasNext()) {
            out.add(items.next());
        }
        return out;
    }

    /** Every referent seen in one call gets an integer id, so the 20 rounds of counting below
     *  index arrays instead of hashing strings. */
    private static final class Names {
        final Map<String, Integer> ids = new HashMap<>(8192);
        final List<String> strings = new ArrayList<>(8192);
        final List<Integer> lowerCaseIds = new ArrayList<>(8192);  // -1 until asked
        final Map<Long, int[]> byObject = new HashMap<>(1024);  // uuid -> sorted referent ids

        int id(String name) {
            Integer id = ids.get(name);
            if (id == null) {
                id = strings.size();
                ids.put(name, id);
                strings.add(name);
                lowerCaseIds.add(-1);
            }
            return id;
        }

        /** The object's referents, sorted (as `.toArray.sorted`), computed once per call. */
        int[] of(EnvObject object, EnvObject perspective) {
            int[] names = byObject.get(object.uuid());
            if (names == null) {
                String[] sorted = toList(object.getReferentsWithContainers(perspective).iterator())
                        .toArray(new String[0]);
                Arrays.sort(sorted);
                names = new int[sorted.length];
                for (int i = 0; i < sorted.length; i++) {
                    names[i] = id(sorted[i]);
                }
                byObject.put(object.uuid(), names);
            }
            return names;
        }

        int lowerCase(int name) {
            int lower = lowerCaseIds.get(name);
            if (lower < 0) {
                String text = strings.get(name);
                String lowerText = text.toLowerCase();
                lower = lowerText.equals(text) ? name : id(lowerText);
                lowerCaseIds.set(name, lower);
            }
            return lower;
        }
    }

    /** uuid -> unique referent, as InputParser.getAllUniqueReferentsLUTObjList. */
    private static Map<Long, String> uniqueReferents(EnvObject[] objects, EnvObject perspective,
                                                    Names names) {
        int[][] candidates = new int[objects.length][];
        for (int i = 0; i < objects.length; i++) {
            candidates[i] = names.of(objects[i], perspective);
        }
        int[][] distinct = filterDuplicateReferents(candidates, names);
        int[] chosen = chooseUniqueReferents(distinct, names.strings.size());
        Map<Long, String> out = new HashMap<>();
        for (int i = 0; i < objects.length; i++) {
            out.put(objects[i].uuid(), names.strings.get(chosen[i]).toLowerCase());
        }
        return out;
    }

    /** InputParser.chooseUniqueReferents: the same index moves and the same random draws. */
    private static int[] chooseUniqueReferents(int[][] candidates, int numNames) {
        int[] indices = new int[candidates.length];
        int[] counted = new int[candidates.length];
        int[] frequency = new int[numNames];
        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            for (int i = 0; i < candidates.length; i++) {
                counted[i] = candidates[i][indices[i]];
                frequency[counted[i]]++;
            }
            for (int i = 0; i < candidates.length; i++) {
                if (frequency[candidates[i][indices[i]]] > 1) {
                    indices[i] = attempt < STEPPING_ATTEMPTS
                            ? (indices[i] + 1) % candidates[i].length
                            : scala.util.Random$.MODULE$.nextInt(candidates[i].length);
                }
            }
            for (int name : counted) {
                frequency[name] = 0;
            }
        }
        int[] out = new int[candidates.length];
        for (int i = 0; i < candidates.length; i++) {
            out[i] = candidates[i][indices[i]];
        }
        return out;
    }

    /** InputParser.filterDuplicateReferents: drop names any two objects share (ignoring case),
     *  unless that leaves an object none. */
    private static int[][] filterDuplicateReferents(int[][] candidates, Names names) {
        int[][] lower = new int[candidates.length][];
        for (int i = 0; i < candidates.length; i++) {
            lower[i] = new int[candidates[i].length];
            for (int j = 0; j < candidates[i].length; j++) {
                lower[i][j] = names.lowerCase(candidates[i][j]);
            }
        }
        int[] frequency = new int[names.strings.size()];
        for (int[] objectNames : lower) {
            for (int name : objectNames) {
                frequency[name]++;
            }
        }
        int[][] out = new int[candidates.length][];
        for (int i = 0; i < candidates.length; i++) {
            int[] kept = new int[candidates[i].length];
            int size = 0;
            for (int j = 0; j < candidates[i].length; j++) {
                if (frequency[lower[i][j]] <= 1) {
                    kept[size++] = candidates[i][j];
                }
            }
            out[i] = size == 0 ? candidates[i] : Arrays.copyOf(kept, size);
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
