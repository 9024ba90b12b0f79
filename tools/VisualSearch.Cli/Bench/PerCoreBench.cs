using System.Diagnostics;
using System.Globalization;

namespace VisualSearch.Cli.Bench;

/// <summary>
/// Ingest like for like, whole processes on the same 12 MP JPEGs in the same run: <c>vsearch index</c> (1 worker x
/// 1 inference thread) against the Node peer (one thread) each pinned to core 0 with <c>taskset -c 0</c>; and on all
/// cores, <c>vsearch index</c> with one worker per core against as many peer processes, each with its share of the
/// images. The peer runs with the float32 model and with our int8 model, and we run both precisions, so the table
/// separates what the model gives from what the pipeline gives. Like the peer, ours embeds the centre crop alone
/// (<c>Encoder__CopyDescriptor=None</c>, labelled "centre crop only"); one more row, labelled, is the product's default
/// (the copy space with its detail regions beside the centre crop: three inferences per photo), not compared with the peer.
/// Every rate counts the whole process, start-up and model load included, from start to exit; the median of
/// <c>rounds</c> interleaved runs.
/// </summary>
internal static class PerCoreBench
{
    public static async Task<PerCoreResult> RunAsync(string? peerDir, string ingestDir, string work, string int8Model, int rounds, TextWriter log, CancellationToken cancellationToken)
    {
        var files = Directory.GetFiles(ingestDir).Length;
        var pinned = File.Exists("/usr/bin/taskset") || File.Exists("/bin/taskset");
        var cores = Environment.ProcessorCount;
        var models = Path.Combine(AppContext.BaseDirectory, "models", "resnet18");
        var peerReady = peerDir is not null && Directory.Exists(Path.Combine(peerDir, "node_modules", "onnxruntime-node"));
        var runs = new List<(string Name, Func<Task<double>> Run)>
        {
            ("ours int8, core 0, 1 worker x 1 thread, centre crop only", () => OursAsync("Int8", "0", 1)),
            ("ours float32, core 0, 1 worker x 1 thread, centre crop only", () => OursAsync("Float32", "0", 1)),
        };
        if (peerReady)
        {
            runs.Add(("peer float32, core 0, 1 process x 1 thread", () => PeerAsync(Path.Combine(models, "ResNet18.onnx"), "0", 1)));
            runs.Add(("peer int8 (our model), core 0, 1 process x 1 thread", () => PeerAsync(int8Model, "0", 1)));
        }

        var all = $"0-{cores - 1}";
        runs.Add(($"ours int8, all {cores} cores, {cores} workers x 1 thread, centre crop only", () => OursAsync("Int8", all, cores)));
        // The product's default (float32 centre crop + the copy space with detail regions), beside the like-for-like rows.
        runs.Add(($"default (float32 + copy space, detail regions), all {cores} cores, {cores} workers x 1 thread", () => OursAsync(null, all, cores, copySpace: true)));
        if (peerReady) runs.Add(($"peer float32, all {cores} cores, {cores} processes x 1 thread", () => PeerAsync(Path.Combine(models, "ResNet18.onnx"), all, cores)));

        var rates = runs.ToDictionary(r => r.Name, _ => new List<double>(), StringComparer.Ordinal);
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (name, run) in runs)
            {
                var rate = await run().ConfigureAwait(false);
                rates[name].Add(rate);
                await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"per core, round {round + 1}: {name}: {rate:F2} images/s")).ConfigureAwait(false);
            }
        }

        return new PerCoreResult
        {
            Images = files,
            Pinned = pinned,
            Rounds = rounds,
            PeerError = peerReady ? null : peerDir is null ? "no --peer" : $"the peer stack is not installed in {peerDir}",
            ImagesPerSecond = rates.ToDictionary(r => r.Key, r => Median(r.Value), StringComparer.Ordinal),
        };

        async Task<double> OursAsync(string? precision, string cpus, int workers, bool copySpace = false)
        {
            var index = Path.Combine(work, $"percore-{Guid.NewGuid():N}");
            var host = Environment.ProcessPath ?? throw new InvalidOperationException("Unknown executable path.");
            var arguments = new List<string>();
            if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase)) arguments.Add(Path.Combine(AppContext.BaseDirectory, "vsearch.dll"));
            arguments.AddRange(["index", ingestDir, "--index", index, "--workers", workers.ToString(CultureInfo.InvariantCulture)]);
            var env = new Dictionary<string, string>
            {
                ["Encoder__IntraOpThreads"] = "1",
                ["Encoder__WarmUpOnStart"] = "false",
            };
            if (precision is not null) env["Encoder__Precision"] = precision;
            // The peer embeds the centre crop alone: so do we, unless the row is the default's.
            if (!copySpace) env["Encoder__CopyDescriptor"] = "None";
            try
            {
                return files / await TimeAsync([Start(host, arguments, cpus, env, null)]).ConfigureAwait(false);
            }
            finally
            {
                try { Directory.Delete(index, recursive: true); } catch (IOException) { }
            }
        }

        async Task<double> PeerAsync(string model, string cpus, int processes)
        {
            var starts = Enumerable.Range(0, processes).Select(i => Start("node",
                [Path.Combine(peerDir!, "peer.mjs"), "--only", "ingest", "--images", Path.GetDirectoryName(ingestDir)!, "--shard", $"{i}/{processes}",
                    "--model", model, "--mean", Path.Combine(models, "ResNetPreprocess.onnx")],
                cpus, new Dictionary<string, string> { ["UV_THREADPOOL_SIZE"] = "1", ["VIPS_CONCURRENCY"] = "1", ["OMP_NUM_THREADS"] = "1" }, peerDir)).ToList();
            return files / await TimeAsync(starts).ConfigureAwait(false);
        }

        ProcessStartInfo Start(string program, IEnumerable<string> arguments, string cpus, Dictionary<string, string> env, string? workingDirectory)
        {
            var info = new ProcessStartInfo(pinned ? "taskset" : program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            if (workingDirectory is not null) info.WorkingDirectory = workingDirectory;
            if (pinned)
            {
                info.ArgumentList.Add("-c");
                info.ArgumentList.Add(cpus);
                info.ArgumentList.Add(program);
            }

            foreach (var a in arguments) info.ArgumentList.Add(a);
            foreach (var (k, v) in env) info.Environment[k] = v;
            return info;
        }

        async Task<double> TimeAsync(List<ProcessStartInfo> infos)
        {
            var sw = Stopwatch.StartNew();
            var processes = infos.Select(i => Process.Start(i) ?? throw new InvalidOperationException($"{i.FileName} did not start")).ToList();
            try
            {
                var outputs = processes.Select(p => (Out: p.StandardOutput.ReadToEndAsync(cancellationToken), Err: p.StandardError.ReadToEndAsync(cancellationToken))).ToList();
                await Task.WhenAll(processes.Select(p => p.WaitForExitAsync(cancellationToken))).ConfigureAwait(false);
                var seconds = sw.Elapsed.TotalSeconds;
                for (var i = 0; i < processes.Count; i++)
                {
                    if (processes[i].ExitCode != 0)
                        throw new InvalidOperationException($"{string.Join(' ', infos[i].ArgumentList)} exited with {processes[i].ExitCode}: {await outputs[i].Err.ConfigureAwait(false)}{await outputs[i].Out.ConfigureAwait(false)}");
                }

                return seconds;
            }
            finally
            {
                foreach (var p in processes) p.Dispose();
            }
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted[sorted.Count / 2];
    }
}
