using System.Diagnostics;
using System.Text.Json;

namespace VisualSearch.Cli.Bench;

/// <summary>
/// Runs bench/peer/peer.mjs (sharp + onnxruntime-node, one thread) on the bench's images. Needs node and
/// <c>npm ci</c> in that folder (bench/run.sh does both); when either is missing the report says so.
/// </summary>
internal static class PeerStack
{
    public static async Task<PeerResult> RunAsync(string peerDir, string imagesDir, int reps, TextWriter log, CancellationToken cancellationToken)
    {
        var script = Path.Combine(peerDir, "peer.mjs");
        if (!File.Exists(script)) return new PeerResult { Error = $"{script} not found" };
        if (!Directory.Exists(Path.Combine(peerDir, "node_modules", "sharp")) || !Directory.Exists(Path.Combine(peerDir, "node_modules", "onnxruntime-node")))
            return new PeerResult { Error = $"the peer stack is not installed: run 'npm ci' in {peerDir} (bench/run.sh does)" };

        await log.WriteLineAsync("peer stack (node, sharp, onnxruntime-node; one thread)").ConfigureAwait(false);
        var models = Path.Combine(AppContext.BaseDirectory, "models", "resnet18");
        var info = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = peerDir,
        };
        foreach (var a in new[] { script, "--images", imagesDir, "--model", Path.Combine(models, "ResNet18.onnx"), "--mean", Path.Combine(models, "ResNetPreprocess.onnx"), "--reps", reps.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        info.Environment["UV_THREADPOOL_SIZE"] = "1";
        info.Environment["VIPS_CONCURRENCY"] = "1";
        info.Environment["OMP_NUM_THREADS"] = "1";
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("node did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return new PeerResult { Error = $"node could not be started: {ex.Message}" };
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            var output = await stdout.ConfigureAwait(false);
            if (process.ExitCode != 0)
                return new PeerResult { Error = $"peer.mjs exited with {process.ExitCode}: {(await stderr.ConfigureAwait(false)).Trim()}" };
            return JsonSerializer.Deserialize<PeerResult>(output, new JsonSerializerOptions(JsonSerializerDefaults.Web))
                ?? new PeerResult { Error = "peer.mjs printed nothing" };
        }
    }
}
