namespace VisualSearch.ReliabilityTests.Infrastructure;

/// <summary>
/// A minimal baseline JPEG encoder for what no library here writes: four-component (CMYK) JPEGs. SkiaSharp and
/// ImageSharp 2.1 (whose JpegColorType.Cmyk silently writes YCbCr) cannot. No subsampling, a flat quantisation
/// table (near-lossless), fixed-length Huffman codes (4 bits for DC categories, 8 bits for AC symbols): simple
/// enough to check by reading, and decoded by any baseline decoder. With <c>adobe</c>, an Adobe APP14 marker
/// (transform 0) says the planes are stored as Photoshop stores CMYK: inverted, 255 = no ink.
/// </summary>
internal static class JpegWriter
{
    private const int Quant = 2;
    private static readonly int[] ZigZag = BuildZigZag();
    private static readonly byte[] AcSymbols = BuildAcSymbols();

    public static byte[] Encode(IReadOnlyList<byte[]> planes, int width, int height, bool adobe)
    {
        ArgumentNullException.ThrowIfNull(planes);
        if (planes.Count is not (1 or 3 or 4)) throw new ArgumentException("1, 3 or 4 planes.", nameof(planes));
        if (planes.Any(p => p.Length != width * height)) throw new ArgumentException("Each plane has width * height bytes.", nameof(planes));
        var n = planes.Count;
        using var output = new MemoryStream();
        output.Write([0xFF, 0xD8]);
        if (adobe)
        {
            // APP14 "Adobe": version 100, flags 0, 0, transform 0 (CMYK / RGB, no colour transform).
            Segment(output, 0xEE, [.. "Adobe"u8, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00]);
        }

        Segment(output, 0xDB, [0x00, .. Enumerable.Repeat((byte)Quant, 64)]);
        var sof = new List<byte> { 8, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, (byte)n };
        for (var c = 0; c < n; c++) sof.AddRange([(byte)(c + 1), 0x11, 0x00]);
        Segment(output, 0xC0, [.. sof]);

        var dht = new List<byte> { 0x00 }; // DC table 0: twelve 4-bit codes for categories 0-11
        dht.AddRange(Counts(4, 12));
        dht.AddRange(Enumerable.Range(0, 12).Select(i => (byte)i));
        dht.Add(0x10); // AC table 0: 162 8-bit codes
        dht.AddRange(Counts(8, AcSymbols.Length));
        dht.AddRange(AcSymbols);
        Segment(output, 0xC4, [.. dht]);

        var sos = new List<byte> { (byte)n };
        for (var c = 0; c < n; c++) sos.AddRange([(byte)(c + 1), 0x00]);
        sos.AddRange([0, 63, 0]);
        Segment(output, 0xDA, [.. sos]);

        var bits = new BitWriter(output);
        var predictors = new int[n];
        var block = new double[64];
        for (var by = 0; by < (height + 7) / 8; by++)
        {
            for (var bx = 0; bx < (width + 7) / 8; bx++)
            {
                for (var c = 0; c < n; c++)
                {
                    for (var y = 0; y < 8; y++)
                    {
                        for (var x = 0; x < 8; x++)
                        {
                            var px = Math.Min(bx * 8 + x, width - 1);
                            var py = Math.Min(by * 8 + y, height - 1);
                            block[y * 8 + x] = planes[c][py * width + px] - 128.0;
                        }
                    }

                    EncodeBlock(bits, Dct(block), ref predictors[c]);
                }
            }
        }

        bits.Flush();
        output.Write([0xFF, 0xD9]);
        return output.ToArray();
    }

    private static void EncodeBlock(BitWriter bits, double[] coefficients, ref int predictor)
    {
        var q = new int[64];
        for (var i = 0; i < 64; i++) q[i] = (int)Math.Round(coefficients[i] / Quant);

        var diff = q[0] - predictor;
        predictor = q[0];
        var category = Category(diff);
        bits.Write(category, 4);
        if (category > 0) bits.Write(Magnitude(diff, category), category);

        var run = 0;
        for (var k = 1; k < 64; k++)
        {
            var v = q[ZigZag[k]];
            if (v == 0)
            {
                run++;
                continue;
            }

            while (run > 15)
            {
                bits.Write(Array.IndexOf(AcSymbols, (byte)0xF0), 8);
                run -= 16;
            }

            var size = Category(v);
            bits.Write(Array.IndexOf(AcSymbols, (byte)((run << 4) | size)), 8);
            bits.Write(Magnitude(v, size), size);
            run = 0;
        }

        if (run > 0) bits.Write(Array.IndexOf(AcSymbols, (byte)0x00), 8);
    }

    /// <summary>The 8x8 forward DCT of JPEG (ITU T.81 A.3.3), written plainly.</summary>
    private static double[] Dct(double[] block)
    {
        var result = new double[64];
        for (var v = 0; v < 8; v++)
        {
            for (var u = 0; u < 8; u++)
            {
                var sum = 0.0;
                for (var y = 0; y < 8; y++)
                {
                    for (var x = 0; x < 8; x++)
                        sum += block[y * 8 + x] * Math.Cos((2 * x + 1) * u * Math.PI / 16) * Math.Cos((2 * y + 1) * v * Math.PI / 16);
                }

                var cu = u == 0 ? Math.Sqrt(0.5) : 1.0;
                var cv = v == 0 ? Math.Sqrt(0.5) : 1.0;
                result[v * 8 + u] = 0.25 * cu * cv * sum;
            }
        }

        return result;
    }

    private static int Category(int value)
    {
        var magnitude = Math.Abs(value);
        var category = 0;
        while (magnitude > 0)
        {
            category++;
            magnitude >>= 1;
        }

        return category;
    }

    /// <summary>The extra bits of a value of a category: the value itself, or for negatives value - 1 in two's complement.</summary>
    private static int Magnitude(int value, int category) => value >= 0 ? value : value + (1 << category) - 1;

    /// <summary>The 16 counts of a DHT that puts <paramref name="count"/> codes at one <paramref name="length"/>.</summary>
    private static byte[] Counts(int length, int count)
    {
        var counts = new byte[16];
        counts[length - 1] = (byte)count;
        return counts;
    }

    /// <summary>EOB, ZRL and every (run, size) symbol of a baseline AC table (run 0-15, size 1-10).</summary>
    private static byte[] BuildAcSymbols()
    {
        var symbols = new List<byte> { 0x00, 0xF0 };
        for (var run = 0; run < 16; run++)
        {
            for (var size = 1; size <= 10; size++) symbols.Add((byte)((run << 4) | size));
        }

        return [.. symbols];
    }

    /// <summary>Natural (row-major) index of each zig-zag position: along the anti-diagonals, alternating direction.</summary>
    private static int[] BuildZigZag()
    {
        var order = new List<int>(64);
        for (var s = 0; s < 15; s++)
        {
            var cells = Enumerable.Range(Math.Max(0, s - 7), Math.Min(s, 7) - Math.Max(0, s - 7) + 1).Select(row => row * 8 + (s - row));
            order.AddRange(s % 2 == 0 ? cells.Reverse() : cells);
        }

        return [.. order];
    }

    private static void Segment(Stream output, byte marker, byte[] payload)
    {
        var length = payload.Length + 2;
        output.Write([0xFF, marker, (byte)(length >> 8), (byte)length]);
        output.Write(payload);
    }

    /// <summary>MSB-first bit packing with JPEG's byte stuffing (0xFF is followed by 0x00); pads with ones.</summary>
    private sealed class BitWriter(Stream output)
    {
        private int _buffer;
        private int _count;

        public void Write(int value, int length)
        {
            for (var i = length - 1; i >= 0; i--)
            {
                _buffer = (_buffer << 1) | ((value >> i) & 1);
                if (++_count == 8) Emit();
            }
        }

        public void Flush()
        {
            while (_count != 0)
            {
                _buffer = (_buffer << 1) | 1;
                if (++_count == 8) Emit();
            }
        }

        private void Emit()
        {
            output.WriteByte((byte)_buffer);
            if (_buffer == 0xFF) output.WriteByte(0x00);
            _buffer = 0;
            _count = 0;
        }
    }
}
